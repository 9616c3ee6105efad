"""Optimizers: hand-worked steps, in-place updates, float32 kept, schedules."""
import math

import numpy as np
import pytest

from scratchdae import SGD, Adam, get_optimizer, learning_rate


def one_param(value, dtype="float64"):
    return {"w": np.array(value, dtype=dtype)}


def test_sgd_momentum_worked_example():
    # lr 0.1, mu 0.9, constant gradient g = 1: v = 1, 1.9, 2.71; p = 1 - 0.1 (1 + 1.9 + 2.71) = 0.439   (O1)
    p = one_param([1.0])
    opt = SGD(lr=0.1, momentum=0.9)
    for _ in range(3):
        opt.step(p, {"w": np.array([1.0])})
    np.testing.assert_allclose(p["w"], [1 - 0.1 * (1 + 1.9 + 2.71)])


def test_sgd_nesterov_worked_example():
    # step 1: v = 1, p -= 0.1 (1 + 0.9 * 1) = 0.19; step 2: v = 1.9, p -= 0.1 (1 + 1.71) = 0.271   (O2)
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


def test_adam_first_step_is_lr_times_sign():
    # After one step m_hat = g, v_hat = g^2: p -= lr g / (|g| + eps) ~ lr sign(g)   (O4)-(O6)
    p = one_param([1.0, -1.0, 0.5])
    Adam(lr=0.01).step(p, {"w": np.array([3.0, -0.2, 1e-3])})
    np.testing.assert_allclose(p["w"], [0.99, -0.99, 0.49], atol=1e-7)


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
    assert learning_rate(0.1, 5, 10, "constant") == 0.1
    assert learning_rate(0.1, 0, 10, "cosine") == pytest.approx(0.1)
    assert learning_rate(0.1, 5, 10, "cosine") == pytest.approx(0.05)
    assert learning_rate(0.1, 25, 100, "step:10:0.5") == pytest.approx(0.025)
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
