r"""Reconstruction losses: negative log-likelihoods -log p(x | h = E(x~)).

Every loss has

* ``forward(out, x) -> (value, cache)``: ``out`` is the model's output dict
  (``"mean"``, and ``"log_var"`` for a variance head), ``x`` the clean batch;
  ``value`` is a 0-d array, the mean over the batch of the per-example loss
  (L1). For the likelihoods it is the full NLL in nats per example, with the
  constant included.
* ``backward(cache) -> (d_out, grads)``: dL/d(out) with the same keys as
  ``out``, and the gradients of the loss's own parameters (``params``).
* ``reconstruction(out)``: the predicted mean in data space: for every
  loss here the minimiser of the expected loss is E[x | x~] (S2).
* ``sample(out, rng)``: a draw from p(x | h), the decoder's distribution,
  for the DAE Markov chain (MC1).
* ``constant(D)``: the part of the per-example value that depends on neither
  the data nor the model (for a fixed sigma, D (log sigma + log sqrt(2 pi)),
  (G2)). It sets the sign: at sigma = 0.1 it is -1084.8 nats for a 28x28
  image, so the NLL is negative once the fit term is smaller than that.

The values of a likelihood loss compare within one loss and one pixel
scale only: a density's NLL shifts by D log c when the pixels are scaled by
c, and a Gaussian and a Bernoulli NLL measure different things.

Code names: ``s``, ``s_min`` and ``u`` are the log-variance omega, omega_min
and the head's raw output u of docs/derivations.md (whose s is the noise level).

Shapes: N examples, D pixels. Equations (L1), (G1)-(G10), (B1)-(B2),
(M1)-(M2) are in docs/derivations.md.
"""
import math
from typing import Any

from .activations import sigmoid, softplus
from .backend import Array, Backend, DType, Rng, backend_of, check_dtype, get_backend
from .validation import SIGMA_RANGE, check_positive

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _check_pair(out, x, keys):
    for k in keys:
        if k not in out:
            raise ValueError(
                f"this loss needs the model output {k!r}, got {sorted(out)}. "
                "Fix: build the model with variance_head=True for a per-pixel variance."
            )
        if out[k].shape != x.shape:
            raise ValueError(f"model output {k!r} has shape {tuple(out[k].shape)} but the target x has "
                             f"shape {tuple(x.shape)}; they must match.")
        if out[k].dtype != x.dtype:
            raise TypeError(f"model output {k!r} is {out[k].dtype} but x is {x.dtype}; "
                            "no silent upcasts: convert x to the model's dtype.")


class Loss:
    """Base class. ``params`` holds trainable loss parameters (often none)."""

    name = "loss"
    needs_variance_head = False
    output_activation = None  # the model's mean-head activation this loss expects, if any

    def __init__(self) -> None:
        self.params = {}

    def reconstruction(self, out: dict[str, Array]) -> Array:
        """The predicted mean in data space, E[x | x~] at the optimum (S2): here the mean head itself."""
        return out["mean"]

    def sample(self, out: dict[str, Array], rng: Rng) -> Array:
        """A draw from p(x | h); a loss that is no likelihood (MSE) returns the mean."""
        return self.reconstruction(out)

    def constant(self, D: int) -> float:
        """The part of the per-example loss that depends on neither data nor model (nats); 0 by default."""
        return 0.0

    def config(self) -> dict[str, Any]:
        """The settings (here only ``name``) from which :func:`get_loss` rebuilds this loss."""
        return {"name": self.name}

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in self.config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class GaussianNLL(Loss):
    r"""Gaussian NLL with a fixed sigma: squared error, scaled, plus a constant.

    L = ||x - mu||^2 / (2 sigma^2) + D log sigma + D/2 log 2 pi       (G2)
    """

    name = "gaussian"

    def __init__(self, sigma: float = 1.0) -> None:
        super().__init__()
        self.sigma = check_positive(sigma, "sigma", SIGMA_RANGE)

    def forward(self, out: dict[str, Array], x: Array) -> tuple[Array, tuple]:
        """The batch mean (L1) of the NLL (G2) of x (N, D) under N(mu, sigma^2 I); returns ``(value, cache)``."""
        _check_pair(out, x, ["mean"])
        N, D = x.shape
        r = out["mean"] - x  # N,D  residual mu - x
        sse = backend_of(r).xp.einsum("nd,nd->n", r, r)  # N  sum of r^2 per row, with no N,D temporary
        nll = sse / (2 * self.sigma**2) + D * (math.log(self.sigma) + HALF_LOG_2PI)  # (G1) summed: (G2) N
        return nll.mean(), (r, N)  # (L1)

    def backward(self, cache: tuple) -> tuple[dict[str, Array], dict[str, Array]]:
        """dL/dmu = (mu - x) / (N sigma^2): (G3) with the 1/N of (L1); no parameters of its own."""
        r, N = cache
        return {"mean": r * (1 / (self.sigma**2 * N))}, {}  # (G3) with the 1/N of (L1)

    def sample(self, out: dict[str, Array], rng: Rng) -> Array:
        """A draw x ~ N(mu, sigma^2 I) from the decoder  (G1)."""
        mu = out["mean"]
        return mu + self.sigma * rng.standard_normal(mu.shape, dtype=mu.dtype)  # x ~ N(mu, sigma^2 I)  (G1)

    def constant(self, D: int) -> float:
        """D (log sigma + log sqrt(2 pi)): the part of (G2) that depends on neither data nor model."""
        return D * (math.log(self.sigma) + HALF_LOG_2PI)  # (G2): -1084.8 nats for D = 784, sigma = 0.1

    def config(self) -> dict[str, Any]:
        """The settings (``name``, ``sigma``) from which :func:`get_loss` rebuilds this loss."""
        return {"name": self.name, "sigma": self.sigma}


class GaussianNLLLearnedSigma(Loss):
    r"""Gaussian NLL with one learned variance, parameterised by omega = log sigma^2 (``log_var``).

    L = D/2 (log 2 pi + s) + ||x - mu||^2 exp(-s) / 2                  (G4)
    """

    name = "gaussian-learned"

    def __init__(self, init_sigma: float = 1.0, *, backend: str | Backend | None = None,
                 dtype: DType = "float32") -> None:
        super().__init__()
        self.init_sigma = check_positive(init_sigma, "init_sigma", SIGMA_RANGE)
        xp = get_backend(backend).xp
        self.params = {"log_var": xp.full((), 2 * math.log(self.init_sigma), dtype=check_dtype(dtype))}

    @property
    def sigma(self) -> float:
        """The current sigma (a host float: syncs the device)."""
        return math.exp(0.5 * float(self.params["log_var"]))

    def forward(self, out: dict[str, Array], x: Array) -> tuple[Array, tuple]:
        """The batch mean (L1) of the NLL (G4) with the learned log-variance omega; returns ``(value, cache)``."""
        _check_pair(out, x, ["mean"])
        N, D = x.shape
        xp = backend_of(x).xp
        s = self.params["log_var"]  # ()
        r = out["mean"] - x  # N,D
        sse = (r * r).sum(axis=1)  # N
        inv_var = xp.exp(-s)  # ()
        nll = 0.5 * D * s + 0.5 * sse * inv_var + D * HALF_LOG_2PI  # (G4) N
        return nll.mean(), (r, sse, inv_var, N, D)  # (L1)

    def backward(self, cache: tuple) -> tuple[dict[str, Array], dict[str, Array]]:
        """dL/dmu and dL/domega (G5), with the 1/N of (L1); dL/domega is in the second dict, under ``log_var``."""
        r, sse, inv_var, N, D = cache
        dmean = r * (inv_var / N)  # (G5) dL/dmu = (mu - x) / sigma^2, with the 1/N of (L1)
        dlog_var = 0.5 * D - 0.5 * sse.mean() * inv_var  # (G5) dL/domega: omega is shared by every example, so its gradient is the batch mean (D7), (L1)
        return {"mean": dmean}, {"log_var": dlog_var}

    def sample(self, out: dict[str, Array], rng: Rng) -> Array:
        """A draw x ~ N(mu, e^omega I) from the decoder  (G4)."""
        mu = out["mean"]
        return mu + self.sigma * rng.standard_normal(mu.shape, dtype=mu.dtype)  # x ~ N(mu, e^omega I)  (G4)

    def constant(self, D: int) -> float:
        """D log sqrt(2 pi), the constant of (G4): the D omega / 2 term is learned, so part of the fit."""
        return D * HALF_LOG_2PI  # (G4): the D s / 2 term is learned, so it is part of the fit

    def config(self) -> dict[str, Any]:
        """The settings (``name``, ``init_sigma``) from which :func:`get_loss` rebuilds this loss."""
        return {"name": self.name, "init_sigma": self.init_sigma}


class HeteroscedasticGaussianNLL(Loss):
    r"""Gaussian NLL with a per-pixel variance from a second decoder head.

    L = sum_d 1/2 [log 2 pi + s_d + (x_d - mu_d)^2 exp(-s_d)]          (G6)

    With ``beta > 0`` the gradients are those of beta-NLL (Seitzer et al.
    2022): each pixel's term is weighted by sg[sigma_d^(2 beta)], a weight
    treated as a constant (G8). beta = 0 is the plain NLL; beta = 1 gives the
    mean the gradient of squared error. The reported value is always the
    plain NLL (G6), so runs with different betas compare.

    The head's raw output u becomes s = s_min + softplus(u - s_min) (G9),
    a smooth floor at sigma >= ``min_sigma``: a pixel that is always 0 (the
    border of a digit) would otherwise drive sigma to 0 and the NLL to minus
    infinity, and exp(-s) past float32's range. ``min_sigma=0`` turns it off.
    """

    name = "gaussian-hetero"
    needs_variance_head = True

    def __init__(self, beta: float = 0.0, min_sigma: float = 1e-3) -> None:
        super().__init__()
        if not isinstance(beta, (int, float)) or isinstance(beta, bool) or not 0.0 <= beta <= 1.0:
            raise ValueError(f"beta must be a number in [0, 1], got {beta!r}. Fix: beta=0.5 is a common choice.")
        if not isinstance(min_sigma, (int, float)) or not 0.0 <= min_sigma < 1.0:
            raise ValueError(f"min_sigma must be a number in [0, 1), got {min_sigma!r}. Fix: e.g. min_sigma=1e-3.")
        self.beta = float(beta)
        self.min_sigma = float(min_sigma)
        self.s_min = 2 * math.log(min_sigma) if min_sigma > 0 else None

    def log_var(self, u: Array) -> tuple[Array, Array | None]:
        """s and ds/du from the head's raw output u (G9)-(G10); s = u without a floor."""
        if self.s_min is None:
            return u, None
        s = self.s_min + softplus(u - self.s_min)  # (G9)
        return s, sigmoid(u - self.s_min)  # (G10) ds/du

    def forward(self, out: dict[str, Array], x: Array) -> tuple[Array, tuple]:
        """The batch mean (L1) of the per-pixel NLL (G6), s floored by (G9); returns ``(value, cache)``."""
        _check_pair(out, x, ["mean", "log_var"])
        xp = backend_of(x).xp
        N = x.shape[0]
        s, ds_du = self.log_var(out["log_var"])  # N,D
        r = out["mean"] - x  # N,D
        inv_var = xp.exp(-s)  # N,D
        r2_iv = r * r * inv_var  # N,D  squared error in units of sigma^2
        nll = 0.5 * (s + r2_iv).sum(axis=1) + x.shape[1] * HALF_LOG_2PI  # (G6) N
        return nll.mean(), (r, s, ds_du, inv_var, r2_iv, N)  # (L1)

    def backward(self, cache: tuple) -> tuple[dict[str, Array], dict[str, Array]]:
        """dL/dmu and dL/du for the two heads: (G7), beta-weighted (G8), through the floor (G10), over N (L1).

        For beta > 0 these are the gradients of :meth:`surrogate`, not of the reported NLL.
        """
        r, s, ds_du, inv_var, r2_iv, N = cache
        xp = backend_of(r).xp
        dmean = r * inv_var  # (G7) N,D
        dlog_var = 0.5 * (1 - r2_iv)  # (G7) N,D
        if self.beta:
            w = xp.exp(self.beta * s)  # (G8) sigma^(2 beta), held constant
            dmean *= w
            dlog_var *= w
        if ds_du is not None:
            dlog_var *= ds_du  # (G10) back through the floor
        dmean *= 1 / N  # (L1)
        dlog_var *= 1 / N
        return {"mean": dmean, "log_var": dlog_var}, {}

    def surrogate(self, out: dict[str, Array], x: Array, weight_log_var: Array) -> Array:
        """The beta-weighted objective (G8) with weights from ``weight_log_var``.

        Its gradient, with ``weight_log_var`` held fixed at ``out["log_var"]``,
        is what :meth:`backward` returns; gradient checks differentiate this.
        """
        xp = backend_of(x).xp
        s = self.log_var(out["log_var"])[0]
        r = out["mean"] - x
        terms = 0.5 * (s + r * r * xp.exp(-s)) + HALF_LOG_2PI  # N,D
        weights = xp.exp(self.beta * self.log_var(weight_log_var)[0])
        return (weights * terms).sum(axis=1).mean()  # (G8)

    def sigma_map(self, out: dict[str, Array]) -> Array:
        """The predicted per-pixel sigma = exp(s / 2)."""
        return backend_of(out["log_var"]).xp.exp(0.5 * self.log_var(out["log_var"])[0])

    def sample(self, out: dict[str, Array], rng: Rng) -> Array:
        """A draw x_d ~ N(mu_d, e^(s_d)), independently for every pixel  (G6)."""
        mu = out["mean"]
        return mu + self.sigma_map(out) * rng.standard_normal(mu.shape, dtype=mu.dtype)  # x_d ~ N(mu_d, e^s_d)  (G6)

    def constant(self, D: int) -> float:
        """D log sqrt(2 pi), the constant of (G6): the s_d terms are predicted, so part of the fit."""
        return D * HALF_LOG_2PI  # (G6)

    def config(self) -> dict[str, Any]:
        """The settings (``name``, ``beta``, ``min_sigma``) from which :func:`get_loss` rebuilds this loss."""
        return {"name": self.name, "beta": self.beta, "min_sigma": self.min_sigma}


class BernoulliNLL(Loss):
    r"""Binary cross-entropy from logits z (the model's mean head with identity output).

    L = sum_d softplus(z_d) - x_d z_d                                  (B1)
    """

    name = "bernoulli"
    output_activation = "identity"

    def forward(self, out: dict[str, Array], x: Array) -> tuple[Array, tuple]:
        """The batch mean (L1) of the binary cross-entropy (B1) of x given logits z; returns ``(value, cache)``."""
        _check_pair(out, x, ["mean"])
        z = out["mean"]  # N,D logits
        nll = (softplus(z) - x * z).sum(axis=1)  # (B1) N
        return nll.mean(), (z, x, x.shape[0])  # (L1)

    def backward(self, cache: tuple) -> tuple[dict[str, Array], dict[str, Array]]:
        """dL/dz = (sigm(z) - x) / N: (B2) with the 1/N of (L1); no parameters of its own."""
        z, x, N = cache
        return {"mean": (sigmoid(z) - x) * (1 / N)}, {}  # (B2)

    def reconstruction(self, out: dict[str, Array]) -> Array:
        """p = sigm(z), the Bernoulli mean: E[x | x~] at the optimum (S2)."""
        return sigmoid(out["mean"])  # p = sigmoid(z), the Bernoulli mean: E[x | x~] at the optimum (S2)

    def sample(self, out: dict[str, Array], rng: Rng) -> Array:
        """A draw x_d ~ Bernoulli(p_d), p = sigm(z), independently for every pixel  (B1)."""
        p = self.reconstruction(out)
        return (rng.random(p.shape, dtype=p.dtype) < p).astype(p.dtype)  # x_d ~ Bernoulli(p_d)  (B1)


class MSE(Loss):
    r"""Mean squared error over all N x D entries, for comparison (not an NLL).

    L = 1/(N D) sum (mu - x)^2                                         (M1)
    """

    name = "mse"

    def forward(self, out: dict[str, Array], x: Array) -> tuple[Array, tuple]:
        """The mean squared error over all N x D entries (M1); returns ``(value, cache)``."""
        _check_pair(out, x, ["mean"])
        r = out["mean"] - x  # N,D
        return (r * r).mean(), (r, r.size)  # (M1)

    def backward(self, cache: tuple) -> tuple[dict[str, Array], dict[str, Array]]:
        """dL/dmu = 2 (mu - x) / (N D)  (M2); no parameters of its own."""
        r, size = cache
        return {"mean": r * (2 / size)}, {}  # (M2)


LOSSES = {c.name: c for c in (GaussianNLL, GaussianNLLLearnedSigma, HeteroscedasticGaussianNLL, BernoulliNLL, MSE)}


def get_loss(spec: str | dict | Loss = "gaussian", *, backend: str | Backend | None = None,
             dtype: DType = "float32") -> Loss:
    """A loss from a spec string.

    ``gaussian[:SIGMA]`` (fixed sigma, default 1), ``gaussian-learned[:INIT_SIGMA]`` (default 1),
    ``gaussian-hetero[:BETA]`` (beta-NLL, default beta 0), ``bernoulli``, ``mse``.
    A dict from :meth:`Loss.config` works too.
    """
    if isinstance(spec, Loss):
        return spec
    if isinstance(spec, dict):
        cfg = dict(spec)
        name = cfg.pop("name", None)
        arg = cfg.get("sigma", cfg.get("beta", cfg.get("init_sigma")))
    else:
        name, sep, arg = str(spec).partition(":")
        if sep and not arg:
            raise ValueError(f"loss spec {spec!r} ends in ':' with no number after it. Fix: e.g. gaussian:0.1, or "
                             f"{name} alone for its default.")
        if arg:
            try:
                arg = float(arg)
            except ValueError:
                raise ValueError(f"loss spec {spec!r}: {arg!r} is not a number. Fix: e.g. gaussian:0.1.") from None
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; expected one of: {', '.join(LOSSES)} "
                         "(e.g. gaussian:0.1, gaussian-hetero:0.5).")
    cls = LOSSES[name]
    try:
        if cls is GaussianNLL:
            return cls(arg if arg not in ("", None) else 1.0)
        if cls is HeteroscedasticGaussianNLL:
            min_sigma = cfg.get("min_sigma", 1e-3) if isinstance(spec, dict) else 1e-3
            return cls(arg if arg not in ("", None) else 0.0, min_sigma=min_sigma)
        if cls is GaussianNLLLearnedSigma:
            return cls(arg if arg not in ("", None) else 1.0, backend=backend, dtype=dtype)
    except ValueError as err:
        raise ValueError(f"loss spec {spec!r}: {err}") from None
    if arg not in ("", None):
        raise ValueError(f"loss {name!r} takes no argument, got {spec!r}. Fix: --loss {name}.")
    return cls()
