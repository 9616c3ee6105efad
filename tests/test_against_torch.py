"""A second opinion: the same computations in PyTorch autograd, float64.

Skipped when torch is not importable; PyTorch is a peer here, never a
dependency. PyTorch's Linear stores W transposed (out, in); we build the
functional form by hand so both sides use the same (in, out) matrix.
"""
import math

import numpy as np
import pytest

from scratchdae import (SGD, Adam, Autoencoder, BernoulliNLL, Dense, GaussianNLL, GaussianNLLLearnedSigma,
                        HeteroscedasticGaussianNLL, MSE)

torch = pytest.importorskip("torch")

TORCH_ACT = {
    "identity": lambda z: z, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
    "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, 0.01), "softplus": torch.nn.functional.softplus,
}


def t(a, grad=False):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=grad)


@pytest.mark.parametrize("activation", list(TORCH_ACT))
def test_dense_layer_matches_autograd(activation):
    rng = np.random.default_rng(1)
    layer = Dense(7, 5, activation, rng=rng, backend="numpy", dtype="float64")
    layer.params["b"][...] = rng.standard_normal(5)
    x, R = rng.standard_normal((6, 7)), rng.standard_normal((6, 5))
    a, cache = layer.forward(x)
    dx, g = layer.backward(R, cache)
    tx, tW, tb = t(x, True), t(layer.params["W"], True), t(layer.params["b"], True)
    ta = TORCH_ACT[activation](tx @ tW + tb)
    (ta * t(R)).sum().backward()
    np.testing.assert_allclose(a, ta.detach().numpy(), rtol=1e-12, atol=1e-14)
    for ours, theirs in [(dx, tx.grad), (g["W"], tW.grad), (g["b"], tb.grad)]:
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-13)


def torch_loss(name, mu, x, log_var=None, sigma=None, beta=0.0, min_sigma=0.0):
    if name == "gaussian":
        nll = torch.nn.functional.gaussian_nll_loss(mu, x, torch.full_like(mu, sigma**2), full=True, reduction="sum")
        return nll / x.shape[0]
    if name == "gaussian-learned":
        var = torch.exp(log_var).expand_as(mu)
        return torch.nn.functional.gaussian_nll_loss(mu, x, var, full=True, reduction="sum") / x.shape[0]
    if name == "gaussian-hetero":
        # beta-NLL as written by Seitzer et al.: the per-pixel NLL times var.detach() ** beta
        if min_sigma:  # the smooth floor (G9), written independently
            s_min = 2 * math.log(min_sigma)
            log_var = s_min + torch.nn.functional.softplus(log_var - s_min)
        var = torch.exp(log_var)
        nll = 0.5 * (torch.log(var) + (x - mu) ** 2 / var) + 0.5 * math.log(2 * math.pi)
        return (nll * var.detach() ** beta).sum() / x.shape[0]
    if name == "bernoulli":
        return torch.nn.functional.binary_cross_entropy_with_logits(mu, x, reduction="sum") / x.shape[0]
    if name == "mse":
        return torch.nn.functional.mse_loss(mu, x)
    raise AssertionError(name)


@pytest.mark.parametrize("loss, name, kw", [
    (GaussianNLL(0.3), "gaussian", dict(sigma=0.3)),
    (GaussianNLLLearnedSigma(0.6, backend="numpy", dtype="float64"), "gaussian-learned", {}),
    (HeteroscedasticGaussianNLL(0.0, min_sigma=0), "gaussian-hetero", dict(beta=0.0)),
    (HeteroscedasticGaussianNLL(0.5, min_sigma=0), "gaussian-hetero", dict(beta=0.5)),
    (HeteroscedasticGaussianNLL(1.0, min_sigma=0), "gaussian-hetero", dict(beta=1.0)),
    (HeteroscedasticGaussianNLL(0.0, min_sigma=0.3), "gaussian-hetero", dict(beta=0.0, min_sigma=0.3)),
    (HeteroscedasticGaussianNLL(0.5, min_sigma=0.3), "gaussian-hetero", dict(beta=0.5, min_sigma=0.3)),
    (BernoulliNLL(), "bernoulli", {}),
    (MSE(), "mse", {}),
])
def test_losses_match_autograd(loss, name, kw):
    rng = np.random.default_rng(2)
    x, mu, s = rng.random((5, 6)), rng.standard_normal((5, 6)), rng.standard_normal((5, 6)) * 0.5
    out = {"mean": mu, "log_var": s}
    value, cache = loss.forward(out, x)
    d_out, grads = loss.backward(cache)
    tmu = t(mu, True)
    ts = t(s, True) if name == "gaussian-hetero" else t(loss.params["log_var"], True) if loss.params else None
    tl = torch_loss(name, tmu, t(x), log_var=ts, **kw)
    tl.backward()
    if not kw.get("beta"):  # with beta > 0 torch's value is the weighted surrogate; ours reports the NLL
        assert float(value) == pytest.approx(tl.item(), rel=1e-12)
    np.testing.assert_allclose(d_out["mean"], tmu.grad.numpy(), rtol=1e-10, atol=1e-14)
    if name == "gaussian-hetero":
        np.testing.assert_allclose(d_out["log_var"], ts.grad.numpy(), rtol=1e-10, atol=1e-14)
    if name == "gaussian-learned":
        assert float(grads["log_var"]) == pytest.approx(ts.grad.item(), rel=1e-10)


def test_whole_autoencoder_matches_autograd():
    model = Autoencoder(8, (6, 3), activation="tanh", tied=True, variance_head=True, seed=0, backend="numpy",
                        dtype="float64")
    loss = HeteroscedasticGaussianNLL(0.5)
    rng = np.random.default_rng(3)
    x_tilde, x = rng.random((4, 8)), rng.random((4, 8))
    out, cache = model.forward(x_tilde)
    dx, grads = model.backward(loss.backward(loss.forward(out, x)[1])[0], cache)

    P = {k: t(v, True) for k, v in model.parameters().items()}
    tx = t(x_tilde, True)
    h = torch.tanh(torch.tanh(tx @ P["encoder.0.W"] + P["encoder.0.b"]) @ P["encoder.1.W"] + P["encoder.1.b"])
    g = torch.tanh(h @ P["encoder.1.W"].T + P["decoder.0.b"])
    mu = torch.sigmoid(g @ P["encoder.0.W"].T + P["mean_head.b"])
    log_var = g @ P["var_head.W"] + P["var_head.b"]
    torch_loss("gaussian-hetero", mu, t(x), log_var=log_var, beta=0.5, min_sigma=1e-3).backward()
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-13)
    for k, p in P.items():
        np.testing.assert_allclose(grads[k], p.grad.numpy(), rtol=1e-10, atol=1e-13, err_msg=k)


@pytest.mark.parametrize("ours, theirs", [
    (lambda: SGD(0.05, momentum=0.9, nesterov=True, weight_decay=1e-2),
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-2)),
    (lambda: SGD(0.05, momentum=0.0), lambda p: torch.optim.SGD(p, lr=0.05)),
    (lambda: Adam(0.01, weight_decay=1e-2), lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=1e-2)),
])
def test_optimizers_match_torch_step_for_step(ours, theirs):
    rng = np.random.default_rng(4)
    w = {"w": rng.standard_normal((3, 2))}
    tw = t(w["w"].copy(), True)
    opt, topt = ours(), theirs([tw])
    for _ in range(10):
        g = rng.standard_normal((3, 2))
        opt.step(w, {"w": g})
        tw.grad = t(g)
        topt.step()
    np.testing.assert_allclose(w["w"], tw.detach().numpy(), rtol=1e-12, atol=1e-14)
