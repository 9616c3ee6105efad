r"""Gradient checks: hand-written backward passes against central differences.

The derivative of a scalar f with respect to one entry theta_i is estimated by

    (f(theta + eps e_i) - f(theta - eps e_i)) / (2 eps)                (GC1)

in float64. ``eps`` is the step Delta of docs/derivations.md. Its two errors:
truncation, eps^2 |f'''| / 6 (about 1.7e-13 |f'''| at eps = 1e-6), and
rounding, about machine-eps |f| / eps (about 2e-10 |f| in float64; in float32
it would be 0.1 |f|, hence float64). Rounding dominates. The analytic
gradient a is compared with the numerical n by

    max_i |a_i - n_i| / max(max_i |a_i|, max_i |n_i|, floor)          (GC2)

the largest disagreement relative to the largest entry. Below 1e-6 means the
backward pass is right; a wrong formula gives errors of order 1. The floor
(1e-3) keeps vanishing gradients (a deep sigmoid stack) from dividing the
rounding error of (GC1), about 1e-10 absolute for f of order 1, by a number
near zero: below the floor, entries are compared in absolute terms.

:func:`gradcheck` is the utility the tests and tutorials use;
:func:`run_all` is ``scratchdae gradcheck``: every layer, activation, loss and
a whole autoencoder, end to end.
"""
from collections.abc import Callable
from typing import Any

from .activations import ACTIVATIONS
from .backend import Array, Backend, backend_of, get_backend
from .layers import Dense
from .losses import (BernoulliNLL, GaussianNLL, GaussianNLLLearnedSigma, HeteroscedasticGaussianNLL, MSE, Loss)
from .model import Autoencoder
from .probe import softmax_regression_backward, softmax_regression_loss

TOLERANCE = 1e-6
FLOOR = 1e-3


def numerical_gradient(f: Callable[[], Any], theta: Array, eps: float = 1e-6) -> Array:
    """Central differences (GC1), step ``eps`` (Delta), of ``f()`` with respect to every entry of ``theta``.

    ``theta`` is nudged in place and restored; ``f`` reads it. Each entry costs
    two calls of ``f`` (and, on CuPy, two device syncs).
    """
    grad = backend_of(theta).xp.zeros_like(theta)
    flat, gflat = theta.reshape(-1), grad.reshape(-1)  # views, so nudges reach theta
    for i in range(flat.size):
        old = float(flat[i])
        flat[i] = old + eps
        f_plus = float(f())
        flat[i] = old - eps
        f_minus = float(f())
        flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2 * eps)  # (GC1)
    return grad


def relative_error(analytic: Array, numeric: Array) -> float:
    """(GC2): max |a - n| / max(max |a|, max |n|, FLOOR)."""
    xp = backend_of(numeric).xp
    scale = max(float(xp.abs(analytic).max()), float(xp.abs(numeric).max()), FLOOR)
    return float(xp.abs(analytic - numeric).max()) / scale  # (GC2)


def gradcheck(f: Callable[[], Any], arrays: dict[str, Array], analytic: dict[str, Array],
              eps: float = 1e-6) -> dict[str, float]:
    """Compare analytic gradients with (GC1) for every array in ``arrays``.

    Parameters
    ----------
    f : callable
        ``f() -> scalar`` reading the arrays (they are nudged in place).
    arrays, analytic : dict of float64 arrays
        The inputs and their analytic gradients, under the same names.

    Returns
    -------
    dict name -> relative error (GC2).
    """
    errors = {}
    for name, theta in arrays.items():
        if theta.dtype.name != "float64":
            raise TypeError(f"gradcheck needs float64 arrays (float32 differences are all rounding), "
                            f"got {theta.dtype} for {name!r}. Fix: build the pieces with dtype='float64'.")
        numeric = numerical_gradient(f, theta, eps)
        errors[name] = relative_error(analytic[name], numeric)
    return errors


def explain(errors: dict[str, float], tol: float = TOLERANCE) -> str:
    """A message in the manner of minitorch's: which array disagrees, by how much."""
    bad = {k: e for k, e in errors.items() if not e <= tol}
    return "; ".join(f"gradient of {k} differs from central differences by relative error {e:.2e} (> {tol:g})"
                     for k, e in bad.items())


# -- the pieces checked by ``scratchdae gradcheck`` ------------------------------

def differentiated_objective(loss: Loss, out: dict[str, Array], x: Array) -> Callable[[dict[str, Array]], Array]:
    """``objective(out) -> scalar`` whose gradient ``loss.backward`` returns: the loss itself, or
    for beta-NLL the surrogate (G8) with its weights frozen at ``out`` (sg[.]: they do not move
    with the nudges of (GC1))."""
    if isinstance(loss, HeteroscedasticGaussianNLL) and loss.beta:
        frozen = out["log_var"].copy()
        return lambda o: loss.surrogate(o, x, frozen)
    return lambda o: loss.forward(o, x)[0]


def check_dense(activation: str, backend: str | Backend | None = None, seed: int = 0, n: int = 5, n_in: int = 4,
                n_out: int = 3) -> dict[str, float]:
    """Dense + activation: dL/dx, dL/dW, dL/db for L = sum(out * R), R random."""
    be = get_backend(backend)
    rng = be.rng(seed)
    layer = Dense(n_in, n_out, activation, rng=rng, backend=be, dtype="float64")
    layer.params["b"][...] = rng.standard_normal(n_out) * 0.5
    x = rng.standard_normal((n, n_in))
    R = rng.standard_normal((n, n_out))

    def f():
        return (layer.forward(x)[0] * R).sum()

    out, cache = layer.forward(x)
    dx, grads = layer.backward(R, cache)
    return gradcheck(f, {"x": x, **layer.params}, {"x": dx, **grads})


def check_loss(loss: Loss, backend: str | Backend | None = None, seed: int = 0, n: int = 4,
               d: int = 5) -> dict[str, float]:
    """A loss: dL/d(outputs) and dL/d(its own parameters)."""
    be = get_backend(backend)
    rng = be.rng(seed)
    x = rng.random((n, d))  # targets in [0, 1), like pixels
    out = {"mean": rng.random((n, d)) * 1.2 - 0.1}
    if loss.needs_variance_head:
        out["log_var"] = rng.standard_normal((n, d)) * 0.5 - 1.0
    if isinstance(loss, BernoulliNLL):
        out["mean"] = rng.standard_normal((n, d)) * 3  # logits
    objective = differentiated_objective(loss, out, x)

    def f():
        return objective(out)

    value, cache = loss.forward(out, x)
    d_out, grads = loss.backward(cache)
    arrays = {**{f"out.{k}": v for k, v in out.items()}, **loss.params}
    analytic = {**{f"out.{k}": v for k, v in d_out.items()}, **grads}
    return gradcheck(f, arrays, analytic)


def check_autoencoder(backend: str | Backend | None = None, seed: int = 0, loss: Loss | None = None, n: int = 3,
                      **model_kw: Any) -> dict[str, float]:
    """A whole autoencoder and loss, end to end: every parameter and the input."""
    be = get_backend(backend)
    loss = loss if loss is not None else GaussianNLL(0.5)
    model = Autoencoder(model_kw.pop("n_in", 6), model_kw.pop("hidden", (4,)), seed=seed, backend=be,
                        dtype="float64", **model_kw)
    rng = be.rng(seed + 1)
    for p in model.parameters().values():  # nonzero biases, so their gradients are tested too
        if p.ndim == 1:
            p[...] = rng.standard_normal(p.shape) * 0.1
    x_tilde = rng.random((n, model.config["n_in"]))
    x = rng.random((n, model.config["n_in"]))

    out, cache = model.forward(x_tilde)
    objective = differentiated_objective(loss, out, x)

    def f():
        return objective(model.forward(x_tilde)[0])

    d_out, loss_grads = loss.backward(loss.forward(out, x)[1])
    dx, grads = model.backward(d_out, cache)
    return gradcheck(f, {"x~": x_tilde, **model.parameters(), **loss.params}, {"x~": dx, **grads, **loss_grads})


def check_softmax_regression(backend: str | Backend | None = None, seed: int = 0, n: int = 6, f: int = 4, k: int = 3,
                             lam: float = 0.1) -> dict[str, float]:
    """The linear probe's softmax regression: dL/dX, dL/dW, dL/db of the penalised loss (LR2) by (LR3)."""
    be = get_backend(backend)
    rng = be.rng(seed)
    X = rng.standard_normal((n, f))  # N,F
    y = be.xp.arange(n) % k  # N  every class present while n >= k
    params = {"W": rng.standard_normal((f, k)), "b": rng.standard_normal(k) * 0.5}  # F,K and K

    def objective():
        return softmax_regression_loss(params, X, y, lam)[0]

    dX, grads = softmax_regression_backward(softmax_regression_loss(params, X, y, lam)[1])
    return gradcheck(objective, {"X": X, **params}, {"X": dX, **grads})


def all_checks(backend: str | Backend | None = None) -> list[tuple[str, Callable[[], dict[str, float]]]]:
    """(name, thunk) pairs: everything ``scratchdae gradcheck`` runs."""
    checks = [(f"dense + {a}", lambda a=a: check_dense(a, backend)) for a in ACTIVATIONS]
    losses = [GaussianNLL(0.7), GaussianNLLLearnedSigma(0.8, backend=backend, dtype="float64"),
              *(HeteroscedasticGaussianNLL(b) for b in (0.0, 0.5, 1.0)), HeteroscedasticGaussianNLL(0.5, min_sigma=0.4),
              BernoulliNLL(), MSE()]
    checks += [(f"loss {loss!r}", lambda loss=loss: check_loss(loss, backend)) for loss in losses]
    models = [
        ("autoencoder 6-4-6 relu, gaussian", {}),
        ("autoencoder 6-5-3-7-4-6, decoder not mirrored", dict(hidden=(5, 3), decoder_hidden=(7, 4),
                                                                activation="tanh", output_activation="identity")),
        ("autoencoder 6-5-3-5-6 tanh, tied", dict(hidden=(5, 3), activation="tanh", tied=True)),
        ("autoencoder 6-8-6 overcomplete, mse", dict(hidden=(8,), loss=MSE())),
        ("autoencoder 6-4-6 bernoulli logits", dict(output_activation="identity", loss=BernoulliNLL())),
        ("autoencoder 6-4-6 learned sigma", dict(loss=GaussianNLLLearnedSigma(0.5, backend=backend, dtype="float64"))),
        ("autoencoder 6-4-6 variance head, NLL",
         dict(variance_head=True, activation="softplus", loss=HeteroscedasticGaussianNLL(0.0))),
        ("autoencoder 6-4-6 variance head, beta-NLL 0.5",
         dict(variance_head=True, activation="sigmoid", loss=HeteroscedasticGaussianNLL(0.5))),
    ]
    checks += [(name, lambda kw=kw: check_autoencoder(backend, **kw)) for name, kw in models]
    checks += [(f"softmax regression (linear probe), lam={lam:g}",
                lambda lam=lam: check_softmax_regression(backend, lam=lam)) for lam in (0.0, 0.1)]
    return checks


def run_all(backend: str | Backend | None = None, tol: float = TOLERANCE) -> list[tuple[str, float, bool]]:
    """Run every check; return rows (name, max relative error, passed)."""
    rows = []
    for name, thunk in all_checks(backend):
        err = max(thunk().values())
        rows.append((name, err, err <= tol))
    return rows
