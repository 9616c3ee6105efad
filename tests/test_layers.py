"""Dense layers and activations: gradient checks on generated shapes and values,
a hand-worked example, stability at extreme inputs, dtype preservation."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import scales, seeds, sizes, to_numpy
from scratchdae import ACTIVATIONS, Dense, get_activation
from scratchdae.activations import sigmoid, softplus
from scratchdae.gradient_check import TOLERANCE, check_dense, explain, gradcheck


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@given(n=sizes, n_in=sizes, n_out=sizes, seed=seeds)
def test_dense_backward_matches_central_differences(backend, activation, n, n_in, n_out, seed):
    errors = check_dense(activation, backend, seed=seed, n=n, n_in=n_in, n_out=n_out)
    assert max(errors.values()) <= TOLERANCE, explain(errors)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@given(seed=seeds, scale=scales, shape=st.tuples(sizes, sizes))
def test_activation_backward_matches_central_differences(backend, activation, seed, scale, shape):
    xp = backend.xp
    rng = backend.rng(seed)
    f = get_activation(activation)
    z = rng.standard_normal(shape) * scale
    z = xp.where(xp.abs(z) < 1e-3, 1e-3, z)  # keep off the ReLU kink, where no derivative exists
    R = rng.standard_normal(shape)
    a = f.forward(z)
    dz = f.backward(R, z, a)
    errors = gradcheck(lambda: (f.forward(z) * R).sum(), {"z": z}, {"z": dz})
    assert errors["z"] <= TOLERANCE, explain(errors)


def test_dense_hand_worked_example():
    # One example, two inputs, one output unit with ReLU (docs/derivations.md, worked example D):
    # z = 1*0.5 + 2*(-1) + 0.25 = -1.25 -> a = relu(z) = 0;
    # second row x = (3, 1): z = 1.5 - 1 + 0.25 = 0.75 -> a = 0.75.
    layer = Dense(2, 1, "relu", backend="numpy", dtype="float64")
    layer.params["W"][...] = [[0.5], [-1.0]]
    layer.params["b"][...] = [0.25]
    x = np.array([[1.0, 2.0], [3.0, 1.0]])
    a, cache = layer.forward(x)
    np.testing.assert_allclose(a, [[0.0], [0.75]])
    # dL/da = 1 for both rows: only the active second row passes gradient.
    dx, g = layer.backward(np.ones((2, 1)), cache)
    np.testing.assert_allclose(g["W"], [[3.0], [1.0]])  # x_2^T * 1
    np.testing.assert_allclose(g["b"], [1.0])
    np.testing.assert_allclose(dx, [[0.0, 0.0], [0.5, -1.0]])  # dz W^T


def test_stable_sigmoid_and_softplus_at_extremes(backend):
    xp = backend.xp
    z = xp.asarray([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype="float32")
    s, sp = to_numpy(sigmoid(z)), to_numpy(softplus(z))
    assert np.all(np.isfinite(s)) and np.all(np.isfinite(sp))
    np.testing.assert_allclose(s, [0.0, 1.9287499e-22, 0.5, 1.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(sp, [0.0, 1.9287499e-22, np.log(2), 50.0, 1000.0], rtol=1e-6)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_float32_stays_float32(backend, activation):
    layer = Dense(3, 2, activation, backend=backend, dtype="float32")
    x = backend.xp.ones((4, 3), dtype="float32")
    a, cache = layer.forward(x)
    dx, g = layer.backward(backend.xp.ones_like(a), cache)
    assert a.dtype == dx.dtype == g["W"].dtype == g["b"].dtype == np.float32


def test_initialisations_have_the_right_scale():
    glorot = to_numpy(Dense(400, 600, "tanh", init="glorot", rng=np.random.default_rng(0), backend="numpy").params["W"])
    a = np.sqrt(6 / 1000)
    assert glorot.min() >= -a and glorot.max() <= a
    np.testing.assert_allclose(glorot.var(), a**2 / 3, rtol=0.02)  # var of U(-a, a)
    he = to_numpy(Dense(400, 600, "relu", rng=np.random.default_rng(0), backend="numpy").params["W"])  # He is the ReLU default
    np.testing.assert_allclose(he.var(), 2 / 400, rtol=0.02)
    # (D6) for ReLU-like units, softplus included; (D5) for identity, sigmoid, tanh (docs/derivations.md, section 2)
    assert [Dense(3, 2, f).init for f in ("relu", "leaky_relu", "softplus")] == ["he"] * 3
    assert [Dense(3, 2, f).init for f in ("identity", "sigmoid", "tanh")] == ["glorot"] * 3


def test_repr_and_bad_arguments():
    assert repr(Dense(784, 512, "relu")) == "Dense(784 -> 512, relu)"
    with pytest.raises(ValueError, match="unknown activation 'relu6'.*expected one of"):
        Dense(2, 2, "relu6")
    with pytest.raises(ValueError, match="positive int"):
        Dense(0, 2)
    with pytest.raises(TypeError, match="float32.*float64.*got int32"):
        Dense(2, 2, dtype="int32")
    with pytest.raises(ValueError, match="unknown init"):
        Dense(2, 2, init="lecun")
