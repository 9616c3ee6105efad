"""The autoencoder: end-to-end gradient checks, tied weights, shapes, repr,
reproducibility and bad input."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import seeds, to_numpy
from scratchdae import (MSE, Adam, Autoencoder, BernoulliNLL, GaussianNLL, GaussianNLLLearnedSigma,
                        HeteroscedasticGaussianNLL, get_corruption)
from scratchdae.gradient_check import TOLERANCE, check_autoencoder, explain

hidden_sizes = st.lists(st.integers(1, 6), min_size=1, max_size=3)


@given(hidden=hidden_sizes, tied=st.booleans(), activation=st.sampled_from(["sigmoid", "tanh", "softplus"]),
       seed=seeds)
def test_autoencoder_end_to_end_gradients(backend, hidden, tied, activation, seed):
    errors = check_autoencoder(backend, seed=seed % 1000, hidden=tuple(hidden), tied=tied, activation=activation)
    assert max(errors.values()) <= TOLERANCE, explain(errors)


@pytest.mark.parametrize("kw", [
    dict(loss=BernoulliNLL(), output_activation="identity"),
    dict(loss=MSE(), hidden=(9,)),
    dict(loss=HeteroscedasticGaussianNLL(0.0), variance_head=True),
    dict(loss=HeteroscedasticGaussianNLL(1.0), variance_head=True, hidden=(3, 2)),
    dict(loss=HeteroscedasticGaussianNLL(0.5), variance_head=True, tied=True, hidden=(5, 2)),
    dict(activation="relu", hidden=(5, 4)),
    dict(activation="leaky_relu", tied=True),
])
def test_autoencoder_end_to_end_every_loss(backend, kw):
    errors = check_autoencoder(backend, **kw)
    assert max(errors.values()) <= TOLERANCE, explain(errors)


def test_learned_sigma_end_to_end(backend):
    errors = check_autoencoder(backend, loss=GaussianNLLLearnedSigma(0.5, backend=backend, dtype="float64"))
    assert "log_var" in errors and max(errors.values()) <= TOLERANCE, explain(errors)


def test_tied_weights_share_one_array_and_stay_tied_after_training():
    model = Autoencoder(6, (4, 3), tied=True, seed=0, backend="numpy")
    names = list(model.parameters())
    assert names == ["encoder.0.W", "encoder.0.b", "encoder.1.W", "encoder.1.b", "decoder.0.b", "mean_head.b"]
    assert model.mean_head.params["W"] is model.encoder.layers[0].params["W"]
    rng = np.random.default_rng(0)
    x = rng.random((8, 6), dtype=np.float32)
    opt, loss = Adam(1e-2), GaussianNLL()
    for _ in range(5):
        out, cache = model.forward(x)
        _, grads = model.backward(loss.backward(loss.forward(out, x)[1])[0], cache)
        opt.step(model.parameters(), grads)
    np.testing.assert_array_equal(model.mean_head.weight(), model.encoder.layers[0].params["W"].T)


def test_shapes_encode_decode_and_repr():
    model = Autoencoder(784, (512, 128), seed=0, backend="numpy")
    x = np.zeros((5, 784), dtype=np.float32)
    assert model.encode(x).shape == (5, 128)
    assert model.reconstruct(x).shape == (5, 784)
    text = repr(model)
    assert text.startswith("Autoencoder(784-512-128, undercomplete, 935,824 parameters")
    assert "encoder.0: Dense(784 -> 512, relu)" in text and "mean_head: Dense(512 -> 784, sigmoid)" in text
    over = Autoencoder(20, 50, tied=True, variance_head=True, backend="numpy")
    assert "overcomplete, tied" in repr(over) and "var_head: Dense(50 -> 20, identity)" in repr(over)
    assert over.forward(np.zeros((2, 20), dtype=np.float32))[0]["log_var"].shape == (2, 20)


def test_same_seed_same_numbers_on_numpy():
    def run(seed):
        model = Autoencoder(10, 7, seed=seed, backend="numpy")
        rng = np.random.default_rng(seed)
        x = rng.random((4, 10), dtype=np.float32)
        x_tilde = get_corruption("gaussian:0.5")(x, rng)
        return to_numpy(model.reconstruct(x_tilde))
    np.testing.assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


def test_float32_end_to_end(backend):
    model = Autoencoder(12, (8, 4), variance_head=True, backend=backend, seed=0)
    loss = HeteroscedasticGaussianNLL(0.5)
    x = backend.xp.full((3, 12), 0.25, dtype="float32")
    x_tilde = get_corruption("gaussian:0.5")(x, backend.rng(0))
    out, cache = model.forward(x_tilde)
    value, lcache = loss.forward(out, x)
    dx, grads = model.backward(loss.backward(lcache)[0], cache)
    assert value.dtype == dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())


def test_load_parameters_checks_names_and_shapes():
    model = Autoencoder(6, 4, seed=0, backend="numpy")
    other = Autoencoder(6, 4, seed=1, backend="numpy")
    other.load_parameters({k: to_numpy(v) for k, v in model.parameters().items()})
    np.testing.assert_array_equal(other.parameters()["encoder.0.W"], model.parameters()["encoder.0.W"])
    with pytest.raises(ValueError, match=r"encoder.0.W has shape \(6, 5\), this model expects \(6, 4\)"):
        other.load_parameters({**model.parameters(), "encoder.0.W": np.zeros((6, 5), np.float32)})
    with pytest.raises(ValueError, match="missing"):
        other.load_parameters({})


@pytest.mark.parametrize("x, err, match", [
    (np.zeros((2, 5), np.float32), ValueError, r"must have 6 features on its last axis, got shape \(2, 5\)"),
    (np.zeros(6, np.float32), ValueError, r"must have 2 dimensions, got shape \(6,\).*reshape"),
    (np.zeros((2, 6), np.float64), TypeError, "must have dtype float32, got float64.*astype"),
    (np.full((2, 6), np.nan, np.float32), ValueError, "NaN or inf"),
    ([[0.0] * 6], TypeError, "must be a NumPy or CuPy array, got list"),
])
def test_bad_input_is_explained(x, err, match):
    with pytest.raises(err, match=match):
        Autoencoder(6, 4, backend="numpy").reconstruct(x)


@pytest.mark.parametrize("kw, match", [
    (dict(hidden=()), "one or more positive layer sizes"),
    (dict(hidden=(0,)), "one or more positive layer sizes"),
    (dict(activation="gelu"), "unknown activation 'gelu'"),
    (dict(dtype="float16"), "float32.*float64"),
])
def test_bad_architecture(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        Autoencoder(6, **kw)


@given(hidden=hidden_sizes, decoder=st.lists(st.integers(1, 6), min_size=0, max_size=3), seed=seeds)
def test_decoder_that_does_not_mirror_the_encoder(backend, hidden, decoder, seed):
    errors = check_autoencoder(backend, seed=seed % 1000, hidden=tuple(hidden), decoder_hidden=tuple(decoder),
                               activation="tanh")
    assert max(errors.values()) <= TOLERANCE, explain(errors)


def test_decoder_hidden_shapes_repr_and_default_mirror():
    m = Autoencoder(2, 128, decoder_hidden=(128,), output_activation="identity", backend="numpy")
    assert [layer.params["W"].shape for layer in m.decoder.layers] == [(128, 128)]
    assert m.mean_head.params["W"].shape == (128, 2)
    assert repr(m).startswith("Autoencoder(2-128-128-2, overcomplete")
    assert m.reconstruct(np.zeros((3, 2), np.float32)).shape == (3, 2)
    mirrored = Autoencoder(6, (5, 3), backend="numpy")
    assert mirrored.config["decoder_hidden"] == [5]
    assert [layer.params["W"].shape for layer in mirrored.decoder.layers] == [(3, 5)]
    direct = Autoencoder(6, (5, 3), decoder_hidden=(), backend="numpy")
    assert len(direct.decoder) == 0 and direct.mean_head.params["W"].shape == (3, 6)


@pytest.mark.parametrize("kw, match", [
    (dict(hidden=(4,), decoder_hidden=(3,), tied=True), "tied weights need a decoder that mirrors"),
    (dict(hidden=(4,), decoder_hidden=(0,)), "decoder_hidden must be zero or more positive layer sizes"),
    (dict(hidden=(4,), decoder_hidden=("8",)), "decoder_hidden must be"),
])
def test_bad_decoder_hidden(kw, match):
    with pytest.raises(ValueError, match=match):
        Autoencoder(6, **kw)
