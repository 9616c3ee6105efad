"""Losses: gradient checks on generated values, one hand-worked example each
(the worked examples in docs/derivations.md), and bad input."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import seeds, sizes, to_numpy
from scratchdae import (MSE, BernoulliNLL, GaussianNLL, GaussianNLLLearnedSigma, HeteroscedasticGaussianNLL,
                        get_loss)
from scratchdae.gradient_check import TOLERANCE, check_loss, explain

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)  # 0.918939


def all_losses(backend):
    return [GaussianNLL(0.3), GaussianNLL(2.0), GaussianNLLLearnedSigma(0.7, backend=backend, dtype="float64"),
            HeteroscedasticGaussianNLL(0.0), HeteroscedasticGaussianNLL(0.5), HeteroscedasticGaussianNLL(1.0),
            BernoulliNLL(), MSE()]


@pytest.mark.parametrize("index", range(8))
@given(n=sizes, d=sizes, seed=seeds)
def test_loss_backward_matches_central_differences(backend, index, n, d, seed):
    loss = all_losses(backend)[index]
    errors = check_loss(loss, backend, seed=seed, n=n, d=d)
    assert max(errors.values()) <= TOLERANCE, explain(errors)


# The worked example: one image of two pixels, x = (1, 0), predicted mean (0.5, 0.5).
X = np.array([[1.0, 0.0]])
MU = np.array([[0.5, 0.5]])


def test_gaussian_fixed_sigma_worked_example():
    # residual r = mu - x = (-0.5, 0.5), ||r||^2 = 0.5, sigma = 0.5
    # L = 0.5 / (2 * 0.25) + 2 (log 0.5 + 0.918939) = 1 + 2 * 0.225791 = 1.451583   (G2)
    loss = GaussianNLL(0.5)
    value, cache = loss.forward({"mean": MU}, X)
    assert float(value) == pytest.approx(1.0 + 2 * (math.log(0.5) + HALF_LOG_2PI)) == pytest.approx(1.451583, abs=1e-6)
    d_out, _ = loss.backward(cache)
    np.testing.assert_allclose(d_out["mean"], [[-2.0, 2.0]])  # r / sigma^2     (G3)


def test_gaussian_is_mse_up_to_scale_and_constant():
    # For fixed sigma the NLL is an affine function of the squared error: (G2) vs (M1).
    rng = np.random.default_rng(0)
    x, mu = rng.random((5, 7)), rng.random((5, 7))
    nll = float(GaussianNLL(0.2).forward({"mean": mu}, x)[0])
    mse = float(MSE().forward({"mean": mu}, x)[0])
    assert nll == pytest.approx(mse * 7 / (2 * 0.04) + 7 * (math.log(0.2) + HALF_LOG_2PI))


def test_learned_sigma_worked_example():
    # s = log sigma^2 = 0: L = 0 + 0.5 * 0.5 + 2 * 0.918939 = 2.087877   (G4)
    # dL/ds = D/2 - ||r||^2 / 2 = 1 - 0.25 = 0.75;  dL/dmu = r = (-0.5, 0.5)  (G5)
    loss = GaussianNLLLearnedSigma(1.0, backend="numpy", dtype="float64")
    value, cache = loss.forward({"mean": MU}, X)
    assert float(value) == pytest.approx(2.087877, abs=1e-6)
    d_out, grads = loss.backward(cache)
    np.testing.assert_allclose(d_out["mean"], [[-0.5, 0.5]])
    assert float(grads["log_var"]) == pytest.approx(0.75)


def test_learned_sigma_minimum_is_the_mean_squared_residual():
    # Setting (G5) to zero: sigma^2 = ||r||^2 / D, here 0.5 / 2 = 0.25.
    loss = GaussianNLLLearnedSigma(0.5, backend="numpy", dtype="float64")
    _, cache = loss.forward({"mean": MU}, X)
    assert float(loss.backward(cache)[1]["log_var"]) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("beta, dmu, ds", [
    (0.0, [-0.5, 0.125], [0.375, 0.46875]),   # (G7): r e^-s, (1 - r^2 e^-s) / 2
    (0.5, [-0.5, 0.25], [0.375, 0.9375]),     # (G8): times sigma = (1, 2)
    (1.0, [-0.5, 0.5], [0.375, 1.875]),       # (G8): times sigma^2 = (1, 4); dmu = r, as for MSE
])
def test_heteroscedastic_worked_example(beta, dmu, ds):
    # s = (0, log 4): sigma^2 = (1, 4).
    # L = 1/2 (0 + 0.25) + 1/2 (1.386294 + 0.0625) + 2 * 0.918939 = 2.687274 for every beta  (G6)
    loss = HeteroscedasticGaussianNLL(beta, min_sigma=0)  # no floor (G9): s is the head's output
    value, cache = loss.forward({"mean": MU, "log_var": np.array([[0.0, math.log(4)]])}, X)
    assert float(value) == pytest.approx(2.687274, abs=1e-6)
    d_out, _ = loss.backward(cache)
    np.testing.assert_allclose(d_out["mean"], [dmu])
    np.testing.assert_allclose(d_out["log_var"], [ds])


def test_variance_floor_keeps_sigma_above_min_sigma_and_the_nll_finite(backend):
    # (G9): s = s_min + softplus(u - s_min) >= s_min, about u far above the floor
    loss = HeteroscedasticGaussianNLL(0.0, min_sigma=1e-3)
    xp = backend.xp
    u = xp.asarray([[-500.0, -13.8155, 0.0, 3.0]], dtype="float32")
    x = xp.zeros((1, 4), dtype="float32")
    sigma = to_numpy(loss.sigma_map({"mean": x, "log_var": u}))
    assert sigma.min() >= 1e-3 * (1 - 1e-6)
    np.testing.assert_allclose(sigma[0, [0, 2, 3]], [1e-3, 1.0, math.exp(1.5)], rtol=1e-5)
    value, cache = loss.forward({"mean": x, "log_var": u}, x)  # zero residual: the case that ran to -inf
    d_out, _ = loss.backward(cache)
    assert np.isfinite(float(value)) and np.isfinite(to_numpy(d_out["log_var"])).all()


def test_bernoulli_worked_example():
    # logits z = (0, 2): softplus = (0.693147, 2.126928), x z = (0, 0) -> L = 2.820075  (B1)
    # dL/dz = sigmoid(z) - x = (0.5 - 1, 0.880797)                                     (B2)
    loss = BernoulliNLL()
    value, cache = loss.forward({"mean": np.array([[0.0, 2.0]])}, X)
    assert float(value) == pytest.approx(2.820075, abs=1e-6)
    np.testing.assert_allclose(loss.backward(cache)[0]["mean"], [[-0.5, 0.880797]], atol=1e-6)
    np.testing.assert_allclose(loss.reconstruction({"mean": np.array([[0.0, 2.0]])}), [[0.5, 0.880797]], atol=1e-6)


def test_bernoulli_is_finite_for_huge_logits(backend):
    z = backend.xp.asarray([[-500.0, 500.0]], dtype="float32")
    x = backend.xp.asarray([[1.0, 0.0]], dtype="float32")
    value, _ = BernoulliNLL().forward({"mean": z}, x)
    assert float(value) == pytest.approx(1000.0)


def test_mse_worked_example():
    loss = MSE()
    value, cache = loss.forward({"mean": MU}, X)
    assert float(value) == pytest.approx(0.25)  # (0.25 + 0.25) / 2   (M1)
    np.testing.assert_allclose(loss.backward(cache)[0]["mean"], [[-0.5, 0.5]])  # 2 r / (N D)  (M2)


def test_losses_keep_float32(backend):
    xp = backend.xp
    x = xp.full((3, 4), 0.5, dtype="float32")
    out = {"mean": xp.full((3, 4), 0.25, dtype="float32"), "log_var": xp.zeros((3, 4), dtype="float32")}
    for loss in [GaussianNLL(0.5), GaussianNLLLearnedSigma(backend=backend), HeteroscedasticGaussianNLL(0.5),
                 BernoulliNLL(), MSE()]:
        value, cache = loss.forward(out, x)
        d_out, grads = loss.backward(cache)
        assert value.dtype == np.float32, loss
        assert all(d.dtype == np.float32 for d in d_out.values()), loss
        assert all(g.dtype == np.float32 for g in grads.values()), loss


@pytest.mark.parametrize("spec, expected", [
    ("gaussian-learned:0.5", GaussianNLLLearnedSigma(0.5)),
    ("gaussian", GaussianNLL(1.0)), ("gaussian:0.1", GaussianNLL(0.1)), ("gaussian-hetero:0.5",
     HeteroscedasticGaussianNLL(0.5)), ("bernoulli", BernoulliNLL()), ("mse", MSE()),
])
def test_get_loss_parses_specs(spec, expected):
    assert repr(get_loss(spec)) == repr(expected)
    assert repr(get_loss(get_loss(spec).config())) == repr(expected)


@pytest.mark.parametrize("make, match", [
    (lambda: GaussianNLL(0.0), "sigma must be a finite number > 0, got 0.0"),
    (lambda: GaussianNLL(-1), "sigma must be a finite number > 0"),
    (lambda: GaussianNLL(float("nan")), "sigma must be a finite number > 0"),
    (lambda: HeteroscedasticGaussianNLL(1.5), r"beta must be a number in \[0, 1\], got 1.5"),
    (lambda: get_loss("laplace"), "unknown loss 'laplace'; expected one of"),
    (lambda: get_loss("gaussian:abc"), "'abc' is not a number"),
    (lambda: get_loss("mse:2"), "takes no argument"),
])
def test_bad_hyperparameters_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_shape_dtype_and_head_mismatches_are_explained():
    with pytest.raises(ValueError, match=r"has shape \(1, 3\) but the target x has shape \(1, 2\)"):
        GaussianNLL().forward({"mean": np.zeros((1, 3))}, X)
    with pytest.raises(TypeError, match="no silent upcasts"):
        GaussianNLL().forward({"mean": MU.astype("float32")}, X)
    with pytest.raises(ValueError, match="needs the model output 'log_var'.*variance_head=True"):
        HeteroscedasticGaussianNLL().forward({"mean": MU}, X)


@given(st.floats(0.01, 10), seeds)
def test_fixed_sigma_nll_matches_the_log_density(sigma, seed):
    # (G1): sum over pixels of -log N(x; mu, sigma^2), written out independently here.
    rng = np.random.default_rng(seed)
    x, mu = rng.random((3, 4)), rng.random((3, 4))
    logpdf = -0.5 * np.log(2 * np.pi * sigma**2) - (x - mu) ** 2 / (2 * sigma**2)
    assert float(GaussianNLL(sigma).forward({"mean": mu}, x)[0]) == pytest.approx(-logpdf.sum(1).mean(), rel=1e-9)


def test_constant_part_and_the_sign_of_the_nll():
    import math

    from scratchdae import BernoulliNLL, GaussianNLL, GaussianNLLLearnedSigma, HeteroscedasticGaussianNLL, MSE
    assert GaussianNLL(0.1).constant(784) == pytest.approx(-1084.8, abs=0.05)  # D (log sigma + log sqrt(2 pi))
    assert GaussianNLLLearnedSigma(0.1, backend="numpy").constant(784) == pytest.approx(784 * 0.5 * math.log(2 * math.pi))
    assert HeteroscedasticGaussianNLL().constant(10) == pytest.approx(10 * 0.5 * math.log(2 * math.pi))
    assert BernoulliNLL().constant(784) == 0 and MSE().constant(784) == 0
    # the NLL is the fit term plus the constant: negative exactly when MSE < -2 sigma^2 constant / D = 0.0277
    x = np.zeros((1, 784), np.float32)
    for mse in (0.027, 0.0285):
        mu = np.full((1, 784), np.sqrt(mse), np.float32)
        value = float(GaussianNLL(0.1).forward({"mean": mu}, x)[0])
        assert (value < 0) == (mse < 0.0277)
