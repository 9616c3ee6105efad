"""Tests for the exercises: red until each function is right.

    pytest tutorials/exercises             # your answers (exercises.py)
    pytest tutorials/exercises -k tanh     # one exercise

SCRATCHDAE_EXERCISES=solutions checks the model answers instead (the
project's own test suite does, so these tests are known to pass on right code).
"""
import importlib
import os
import sys
from pathlib import Path

import numpy as np

from scratchdae import Adam
from scratchdae.activations import get_activation
from scratchdae.gradient_check import TOLERANCE, gradcheck

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "solutions")]
ex = importlib.import_module(os.environ.get("SCRATCHDAE_EXERCISES", "exercises"))
rng = np.random.default_rng(0)


def test_tanh_backward_passes_the_gradient_check():
    z = rng.standard_normal((4, 3))
    R = rng.standard_normal((4, 3))  # L = sum(tanh(z) * R), so dL/da = R

    def loss():
        return float((np.tanh(z) * R).sum())

    errors = gradcheck(loss, {"z": z}, {"z": ex.tanh_backward(R, z, np.tanh(z))})
    assert errors["z"] <= TOLERANCE, f"your dz differs from central differences by {errors['z']:.2e}"
    # the same check catches a classic slip, 1 - a instead of 1 - a^2
    wrong = gradcheck(loss, {"z": z}, {"z": R * (1 - np.tanh(z))})
    assert wrong["z"] > 1e-2


def test_tied_dense_backward_passes_the_gradient_check():
    W = rng.standard_normal((5, 3))  # the encoder's weight: 5 -> 3; the tied layer maps 3 -> 5
    b = rng.standard_normal(5)
    x = rng.standard_normal((4, 3))
    R = rng.standard_normal((4, 5))
    sig = get_activation("sigmoid")

    def forward():
        z = x @ W.T + b  # (D1) with the transposed weight
        return z, sig.forward(z)

    def loss():
        return float((forward()[1] * R).sum())

    z, a = forward()
    dx, dW, db = ex.tied_dense_backward(R, x, z, a, W, sig.backward)
    assert dW.shape == W.shape, f"dW_enc must have the shared matrix's shape {W.shape}, got {dW.shape}"
    errors = gradcheck(loss, {"x": x, "W": W, "b": b}, {"x": dx, "W": dW, "b": db})
    assert max(errors.values()) <= TOLERANCE, errors


def test_beta_nll_gradients_match_the_derivation():
    mu, s, x = rng.random(6), rng.standard_normal(6) * 0.5, rng.random(6)

    def nll():  # (G6) for one example, constant dropped
        return float(0.5 * (s + (x - mu) ** 2 * np.exp(-s)).sum())

    dmu, ds = ex.beta_nll_gradients(mu, s, x, beta=0.0)
    errors = gradcheck(nll, {"mu": mu, "s": s}, {"mu": dmu, "s": ds})
    assert max(errors.values()) <= TOLERANCE, f"beta = 0 must be the plain NLL's gradient (G7): {errors}"
    dmu1, ds1 = ex.beta_nll_gradients(mu, s, x, beta=1.0)
    np.testing.assert_allclose(dmu1, mu - x, rtol=1e-12, err_msg="with beta = 1 the mean's gradient is mu - x")
    dmu5, ds5 = ex.beta_nll_gradients(mu, s, x, beta=0.5)
    np.testing.assert_allclose(ds5, ds * np.exp(0.5 * s), rtol=1e-12, err_msg="(G8): weight by exp(beta s)")


def test_adamw_without_decay_is_adam_and_with_decay_is_not_coupled_l2():
    p0, grads = rng.standard_normal(5), [rng.standard_normal(5) for _ in range(3)]
    p, m, v = p0.copy(), np.zeros(5), np.zeros(5)
    ref = {"w": p0.copy()}
    adam = Adam(lr=0.01)
    for t, g in enumerate(grads, start=1):
        ex.adamw_step(p, g, m, v, t, lr=0.01)
        adam.step(ref, {"w": g})
    np.testing.assert_allclose(p, ref["w"], rtol=1e-10, err_msg="weight_decay = 0 must be plain Adam (O4)-(O6)")
    # decoupled decay: the first step shrinks p by lr * wd * p, then moves by about lr * sign(g)
    p = p0.copy()
    ex.adamw_step(p, grads[0], np.zeros(5), np.zeros(5), 1, lr=0.01, weight_decay=0.5)
    expected = p0 * (1 - 0.01 * 0.5) - 0.01 * grads[0] / (np.abs(grads[0]) + 1e-8)
    np.testing.assert_allclose(p, expected, rtol=1e-9)
    coupled = {"w": p0.copy()}
    Adam(lr=0.01, weight_decay=0.5).step(coupled, {"w": grads[0]})
    assert not np.allclose(p, coupled["w"]), "coupled L2 (O3) and decoupled decay should differ"
