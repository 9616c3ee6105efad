"""Optimizers: hand-worked steps, in-place updates, float32 kept, schedules; the fast step the same bits."""
import inspect
import math

import numpy as np
import pytest

from scratchdae import SGD, Adam, get_optimizer, learning_rate, to_host


def one_param(value, dtype="float64"):
    return {"w": np.array(value, dtype=dtype)}


def test_sgd_momentum_worked_example():
    # lr 0.1, kappa 0.9, constant gradient g = 1: xi = 1, 1.9, 2.71; p = 1 - 0.1 (1 + 1.9 + 2.71) = 0.439   (O1)
    p = one_param([1.0])
    opt = SGD(lr=0.1, momentum=0.9)
    for _ in range(3):
        opt.step(p, {"w": np.array([1.0])})
    np.testing.assert_allclose(p["w"], [1 - 0.1 * (1 + 1.9 + 2.71)])


def test_sgd_nesterov_worked_example():
    # (O2) uses the velocity after this step's update:
    # step 1: xi = 1, p -= 0.1 (1 + 0.9 * 1) = 0.19; step 2: xi = 1.9, p -= 0.1 (1 + 0.9 * 1.9) = 0.271
    p = one_param([1.0])
    opt = SGD(lr=0.1, momentum=0.9, nesterov=True)
    for _ in range(2):
        opt.step(p, {"w": np.array([1.0])})
    np.testing.assert_allclose(p["w"], [1 - 0.19 - 0.271])


def test_weight_decay_adds_lambda_p():
    # (O3): g' = g + 0.5 * 2 = 1 + 1 = 2; plain SGD step 0.1 * 2
    p = one_param([2.0])
    SGD(lr=0.1, momentum=0.0, weight_decay=0.5).step(p, {"w": np.array([1.0])})
    np.testing.assert_allclose(p["w"], [1.8])


def test_weight_decay_is_coupled_and_decays_every_array_it_is_given():
    # (O3) for weights, biases and a 0-d log-variance alike; with Adam, lambda p goes through m and v
    # (coupled L2): with g = 0 the first step is lr (lambda p) / (|lambda p| + delta) = lr sign(p), not lr lambda p.
    p = {"W": np.array([[2.0]]), "b": np.array([-1.0]), "log_var": np.array(0.5)}
    zero = {k: np.zeros_like(v) for k, v in p.items()}
    SGD(lr=0.1, momentum=0.0, weight_decay=0.5).step(p, zero)
    np.testing.assert_allclose([p["W"][0, 0], p["b"][0], float(p["log_var"])], [1.9, -0.95, 0.475])
    q = {"w": np.array([0.2])}
    Adam(lr=0.01, weight_decay=0.5).step(q, {"w": np.array([0.0])})
    np.testing.assert_allclose(q["w"], [0.2 - 0.01 * 0.1 / (0.1 + 1e-8)], rtol=1e-12)  # ~0.19
    # decoupled AdamW would give 0.2 - 0.01 * 0.5 * 0.2 = 0.199


def test_adam_first_step_is_lr_g_over_abs_g_plus_delta():
    # After one step m_hat = g, v_hat = g^2: p -= lr g / (|g| + delta)   (O4)-(O6), computed as (O10).
    # That is ~ lr sign(g) for |g| >> delta = 1e-8, lr / 2 at |g| = delta, and ~ lr |g| / delta below.
    p = one_param([1.0, -1.0, 0.5, 0.5, 0.5])
    g = np.array([3.0, -0.2, 1e-3, 1e-8, 1e-10])
    Adam(lr=0.01).step(p, {"w": g})
    expected = np.array([1.0, -1.0, 0.5, 0.5, 0.5]) - 0.01 * g / (np.abs(g) + 1e-8)
    np.testing.assert_allclose(p["w"], expected, rtol=1e-12)
    np.testing.assert_allclose(expected, [0.99, -0.99, 0.49, 0.495, 0.5 - 0.01 / 101], atol=1e-6)  # ~ by hand


def test_adam_two_steps_by_hand():
    g1, g2, lr, b1, b2, eps = 1.0, 3.0, 0.1, 0.9, 0.999, 1e-8
    m = (1 - b1) * g1
    v = (1 - b2) * g1**2
    p = 0.0 - lr * (m / (1 - b1)) / (math.sqrt(v / (1 - b2)) + eps)
    m = b1 * m + (1 - b1) * g2
    v = b2 * v + (1 - b2) * g2**2
    p = p - lr * (m / (1 - b1**2)) / (math.sqrt(v / (1 - b2**2)) + eps)
    w = one_param([0.0])
    opt = Adam(lr=lr)
    opt.step(w, {"w": np.array([g1])})
    opt.step(w, {"w": np.array([g2])})
    np.testing.assert_allclose(w["w"], [p], rtol=1e-12)


@pytest.mark.parametrize("make", [lambda: SGD(0.1, 0.9, nesterov=True, weight_decay=1e-3),
                                  lambda: Adam(1e-3, weight_decay=1e-3)])
def test_updates_in_place_and_keep_float32(backend, make):
    xp = backend.xp
    p = {"w": xp.ones((3, 2), dtype="float32"), "s": xp.zeros((), dtype="float32")}
    ids = {k: id(v) for k, v in p.items()}
    opt = make()
    for _ in range(3):
        opt.step(p, {"w": xp.full((3, 2), 0.5, dtype="float32"), "s": xp.ones((), dtype="float32")})
    assert {k: id(v) for k, v in p.items()} == ids
    assert all(v.dtype == np.float32 for v in p.values())
    assert all(a.dtype == np.float32 for a in opt.state_arrays().values())
    assert float(p["w"][0, 0]) < 1.0


def test_state_round_trip_continues_identically():
    rng = np.random.default_rng(0)
    grads = [{"w": rng.standard_normal(4)} for _ in range(6)]
    a, b = one_param(np.zeros(4)), one_param(np.zeros(4))
    opt_a, opt_b = Adam(0.1), Adam(0.1)
    for g in grads[:3]:
        opt_a.step(a, g)
        opt_b.step(b, g)
    restored = Adam(0.1)
    restored.load_state_arrays({k: v.copy() for k, v in opt_b.state_arrays().items()}, b, opt_b.t)
    for g in grads[3:]:
        opt_a.step(a, g)
        restored.step(b, g)
    np.testing.assert_array_equal(a["w"], b["w"])


def test_schedules():
    assert learning_rate(0.1, 5, 10, "constant") == 0.1  # (O7)
    assert learning_rate(0.1, 0, 10, "cosine") == pytest.approx(0.1)  # (O8)
    assert learning_rate(0.1, 5, 10, "cosine") == pytest.approx(0.05)
    assert learning_rate(0.1, 9, 10, "cosine") == pytest.approx(0.05 * (1 + math.cos(0.9 * math.pi)))  # last epoch > 0
    assert learning_rate(0.1, 25, 100, "step:10:0.5") == pytest.approx(0.025)  # (O9) 0.1 * 0.5^2
    with pytest.raises(ValueError, match="unknown learning-rate schedule 'warmup'"):
        learning_rate(0.1, 0, 10, "warmup")


@pytest.mark.parametrize("make, match", [
    (lambda: SGD(lr=0), "learning rate lr must be a finite number > 0"),
    (lambda: SGD(lr=0.1, momentum=1.0), r"momentum must be a number in \[0, 1\)"),
    (lambda: SGD(lr=0.1, momentum=0.0, nesterov=True), "Nesterov momentum needs momentum > 0"),
    (lambda: Adam(betas=(0.9, 1.2)), r"beta2 must be a number in \[0, 1\)"),
    (lambda: Adam(weight_decay=-1), "weight_decay must be a number from 0 to 1"),
    (lambda: get_optimizer("rmsprop"), "unknown optimizer 'rmsprop'"),
])
def test_bad_hyperparameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# -- the fast step (scratchdae/fast.py) against this reference ---------------------------------------


def test_the_plain_step_is_a_short_loop_a_student_can_read():
    from scratchdae import optim

    src = inspect.getsource(optim.Optimizer.step)
    assert len(src.splitlines()) <= 25
    for speed in ("Thread", "CHUNK", "FLUSH", "flush", "submit"):
        assert speed not in src
    assert "concurrent" not in inspect.getsource(optim) and "\nimport os" not in inspect.getsource(optim)


def seeded_state(opt, start, rng, t=10):
    """Load a state as after ``t`` steps: moments of about 0.01, but 2x the smallest float32 normal on
    the first 50 columns of W, which will get no gradient (dead units): their moments decay to subnormals."""
    tiny = np.finfo(np.float32).tiny
    arrays = {}
    for name, p in start.items():
        for k in opt.keys:
            a = (np.abs(rng.standard_normal(p.shape)) * 0.01).astype(p.dtype)
            if name == "W":
                a[:, :50] = 2 * tiny
            arrays[f"{name}/{k}"] = a
    opt.load_state_arrays(arrays, start, t)


@pytest.mark.parametrize("make, subnormals", [
    (lambda: SGD(0.1, momentum=0.9, nesterov=True, weight_decay=1e-3), False),
    (lambda: Adam(1e-3), True),  # no weight decay: a dead unit's gradient is exactly 0
    (lambda: Adam(1e-3, weight_decay=1e-4), False),
], ids=["sgd-nesterov-decay", "adam", "adam-decay"])
def test_the_fast_step_gives_the_plain_steps_parameters_to_the_last_bit(monkeypatch, make, subnormals):
    # the fast step (pieces on two threads, the subnormal flush every 2 steps) against Optimizer.step:
    # every parameter the same to the last bit; the state too, but for the subnormal moments it set to 0
    from scratchdae import fast

    rng = np.random.default_rng(1)
    shapes = {"W": (700, 600), "V": (600, 700), "b": (600,), "s": ()}
    start = {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}
    start["d"] = rng.standard_normal(300)  # a float64 parameter
    state_rng_seed = int(rng.integers(2**31))
    grads = []
    for _ in range(12):
        g = {k: rng.standard_normal(p.shape).astype(p.dtype) for k, p in start.items()}
        g["W"][:, :50] = 0  # dead units
        grads.append(g)
    grads[3]["V"] = grads[3]["W"].T  # a tied layer's gradient: a transposed view

    def run(accelerated):
        params, opt = {k: v.copy() for k, v in start.items()}, make()
        seeded_state(opt, params, np.random.default_rng(state_rng_seed))
        if accelerated:
            opt = fast.accelerate(opt)
        for g in grads:
            opt.step(params, g)
        assert opt.t == 10 + len(grads)
        return params, {k: a.copy() for k, a in opt.state_arrays().items()}

    plain_params, plain_state = run(False)
    shared = []
    real_workers = fast._workers
    monkeypatch.setattr(fast, "_workers", lambda: shared.append(1) or real_workers())
    monkeypatch.setattr(fast, "CORES", 2)
    monkeypatch.setattr(fast, "CHUNK", 1 << 16)  # 420,000 numbers: 7 pieces each
    monkeypatch.setattr(fast, "FLUSH_EVERY", 10**9)  # pieces and threads alone: the state is the same too
    fast_params, fast_state = run(True)
    assert shared  # the pieces went to a worker thread
    for k in start:
        assert fast_params[k].dtype == start[k].dtype
        np.testing.assert_array_equal(fast_params[k], plain_params[k])
    for k in plain_state:
        np.testing.assert_array_equal(fast_state[k], plain_state[k])

    monkeypatch.setattr(fast, "FLUSH_EVERY", 2)
    fast_params, fast_state = run(True)
    for k in start:
        np.testing.assert_array_equal(fast_params[k], plain_params[k])
    flushed = 0
    for k in plain_state:
        plain, quick = plain_state[k], fast_state[k]
        differ = plain != quick
        assert (quick[differ] == 0).all() and (np.abs(plain[differ]) < np.finfo(plain.dtype).tiny).all(), k
        flushed += differ.sum()
    assert (flushed > 1000) == subnormals  # Adam's dead units: 50 x 700 moments stuck at subnormals, set to 0


@pytest.mark.parametrize("make", [lambda: SGD(0.1, 0.9, nesterov=True, weight_decay=1e-3),
                                  lambda: Adam(1e-3, weight_decay=1e-3)])
def test_the_fast_step_on_each_backend_gives_the_plain_steps_bits(backend, make):
    from scratchdae import fast

    xp = backend.xp
    rng = np.random.default_rng(2)
    start = {"W": rng.standard_normal((30, 20)).astype(np.float32), "b": rng.standard_normal(20).astype(np.float32)}
    grads = [{k: backend.asarray(rng.standard_normal(v.shape).astype(np.float32)) for k, v in start.items()}
             for _ in range(4)]
    results = []
    for opt in (make(), fast.accelerate(make())):
        params = {k: backend.asarray(v) for k, v in start.items()}
        for g in grads:
            opt.step(params, g)
        assert all(isinstance(v, xp.ndarray) for v in params.values())
        results.append({k: to_host(v) for k, v in params.items()})
    for k in start:
        np.testing.assert_array_equal(results[1][k], results[0][k])


def test_accelerate_twice_is_harmless_and_the_optimizer_works_as_before():
    from scratchdae import fast

    rng = np.random.default_rng(3)
    grads = [{"w": rng.standard_normal(5)} for _ in range(4)]
    plain, quick, twice = one_param(np.ones(5)), one_param(np.ones(5)), one_param(np.ones(5))
    opts = [Adam(0.1), fast.accelerate(Adam(0.1)), fast.accelerate(fast.accelerate(Adam(0.1)))]
    for g in grads[:2]:
        for opt, p in zip(opts, (plain, quick, twice)):
            opt.step(p, g)
    assert [opt.t for opt in opts] == [2, 2, 2]  # one step a call, not two
    for opt in opts:
        opt.lr = 0.05  # the schedule sets the rate each epoch
    restored = fast.accelerate(Adam(0.1))
    restored.load_state_arrays({k: v.copy() for k, v in opts[2].state_arrays().items()}, twice, opts[2].t)
    restored.lr = 0.05
    resumed = {"w": twice["w"].copy()}
    for g in grads[2:]:
        for opt, p in zip(opts + [restored], (plain, quick, twice, resumed)):
            opt.step(p, g)
    for p in (quick, twice, resumed):
        np.testing.assert_array_equal(p["w"], plain["w"])
    assert opts[2].config() == Adam(0.05).config() and restored.t == 4
    with pytest.raises(TypeError, match="Fix: accelerate"):
        fast.accelerate("adam")


@pytest.mark.parametrize("make", [lambda: Adam(1e-3, weight_decay=1e-4), lambda: SGD(0.1, momentum=0.9, nesterov=True)])
def test_pieces_on_threads_give_the_same_bits_as_one_whole_update(monkeypatch, make):
    # large parameters are updated in pieces, the pieces shared among worker threads; the same steps
    # on whole arrays, on one thread, must give every bit the same
    from scratchdae import fast

    rng = np.random.default_rng(0)
    shapes = {"W": (700, 600), "V": (600, 700), "b": (600,), "s": ()}
    start = {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}
    grads = [{k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()} for _ in range(3)]
    grads[1]["V"] = grads[1]["W"].T  # a tied layer's gradient: a transposed view

    def run():
        params, opt = {k: v.copy() for k, v in start.items()}, fast.accelerate(make())
        for g in grads:
            opt.step(params, g)
        return params

    monkeypatch.setattr(fast, "CORES", 2)
    monkeypatch.setattr(fast, "CHUNK", 1 << 16)  # 420,000 numbers: 7 pieces each
    threaded = run()
    monkeypatch.setattr(fast, "CORES", 1)
    monkeypatch.setattr(fast, "CHUNK", 1 << 30)
    whole = run()
    for k in shapes:
        assert threaded[k].dtype == np.float32
        np.testing.assert_array_equal(threaded[k], whole[k])


def test_a_dead_units_moment_is_flushed_to_zero_and_no_parameter_changes(monkeypatch):
    # a gradient that stops (a dead ReLU unit): m shrinks by 0.9 a step and, in float32, sticks at the
    # smallest subnormal instead of reaching 0; the periodic flush sets it to 0, and the parameters
    # are the same to the last bit as without the flush
    from scratchdae import fast

    tiny = np.finfo(np.float32).tiny
    g_live = np.linspace(-1, 1, 64, dtype=np.float32)

    def run(flush_every, steps=1200):
        monkeypatch.setattr(fast, "FLUSH_EVERY", flush_every)
        params, opt = {"w": np.linspace(0.5, 1.5, 64, dtype=np.float32)}, fast.accelerate(Adam(1e-3))
        for t in range(steps):
            opt.step(params, {"w": g_live if t < 3 else np.zeros(64, np.float32)})
        return params["w"], opt.state["w"]["m"]

    w_flushed, m_flushed = run(64)
    w_kept, m_kept = run(10**9)
    stuck = (m_kept != 0) & (np.abs(m_kept) < tiny)
    assert stuck.sum() > 50  # without the flush, the moments stick at subnormal values
    assert not ((m_flushed != 0) & (np.abs(m_flushed) < tiny)).any()
    assert (m_flushed[stuck] == 0).all()
    np.testing.assert_array_equal(w_flushed, w_kept)


def test_small_parameters_are_updated_on_the_calling_thread(monkeypatch):
    # handing work to a thread costs about 0.1 ms: a toy model's few hundred numbers are not worth it
    from scratchdae import fast

    monkeypatch.setattr(fast, "CORES", 2)
    monkeypatch.setattr(fast, "_workers", lambda: pytest.fail("a thread was asked to update a small model"))
    params = {"W": np.ones((128, 128), np.float32), "b": np.zeros(128, np.float32)}
    fast.accelerate(Adam(1e-3)).step(params, {"W": np.ones((128, 128), np.float32), "b": np.ones(128, np.float32)})
    assert params["W"][0, 0] < 1
