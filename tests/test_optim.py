"""Optimizers: hand-worked steps, in-place updates, float32 kept, schedules."""
import math

import numpy as np
import pytest

from scratchdae import SGD, Adam, get_optimizer, learning_rate


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
    (lambda: Adam(weight_decay=-1), "weight_decay must be a number >= 0"),
    (lambda: get_optimizer("rmsprop"), "unknown optimizer 'rmsprop'"),
])
def test_bad_hyperparameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("make", [lambda: Adam(1e-3, weight_decay=1e-4), lambda: SGD(0.1, momentum=0.9, nesterov=True)])
def test_pieces_on_threads_give_the_same_bits_as_one_whole_update(monkeypatch, make):
    # large parameters are updated in pieces, the pieces shared among worker threads; the same steps
    # on whole arrays, on one thread, must give every bit the same
    from scratchdae import optim

    rng = np.random.default_rng(0)
    shapes = {"W": (700, 600), "V": (600, 700), "b": (600,), "s": ()}
    start = {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}
    grads = [{k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()} for _ in range(3)]
    grads[1]["V"] = grads[1]["W"].T  # a tied layer's gradient: a transposed view

    def run():
        params, opt = {k: v.copy() for k, v in start.items()}, make()
        for g in grads:
            opt.step(params, g)
        return params

    monkeypatch.setattr(optim, "CORES", 2)
    monkeypatch.setattr(optim, "CHUNK", 1 << 16)  # 420,000 numbers: 7 pieces each
    threaded = run()
    monkeypatch.setattr(optim, "CORES", 1)
    monkeypatch.setattr(optim, "CHUNK", 1 << 30)
    whole = run()
    for k in shapes:
        assert threaded[k].dtype == np.float32
        np.testing.assert_array_equal(threaded[k], whole[k])


def test_a_dead_units_moment_is_flushed_to_zero_and_no_parameter_changes(monkeypatch):
    # a gradient that stops (a dead ReLU unit): m shrinks by 0.9 a step and, in float32, sticks at the
    # smallest subnormal instead of reaching 0; the periodic flush sets it to 0, and the parameters
    # are the same to the last bit as without the flush
    from scratchdae import optim

    tiny = np.finfo(np.float32).tiny
    g_live = np.linspace(-1, 1, 64, dtype=np.float32)

    def run(flush_every, steps=1200):
        monkeypatch.setattr(optim, "FLUSH_EVERY", flush_every)
        params, opt = {"w": np.linspace(0.5, 1.5, 64, dtype=np.float32)}, Adam(1e-3)
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
    from scratchdae import optim

    monkeypatch.setattr(optim, "CORES", 2)
    monkeypatch.setattr(optim, "_workers", lambda: pytest.fail("a thread was asked to update a small model"))
    params = {"W": np.ones((128, 128), np.float32), "b": np.zeros(128, np.float32)}
    Adam(1e-3).step(params, {"W": np.ones((128, 128), np.float32), "b": np.ones(128, np.float32)})
    assert params["W"][0, 0] < 1
