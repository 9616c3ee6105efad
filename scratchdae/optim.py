r"""Optimizers that update parameters in place, without needless temporaries.

``step(params, grads)`` takes two dicts with the same names (the model's
:meth:`~scratchdae.model.Autoencoder.parameters` and the grads from its
backward). Updates are written into the parameter arrays, so tied weights stay
tied and nothing is reallocated. Each parameter gets one scratch buffer, made
once, in the parameter's own dtype: a float32 step never touches float64.

The update rules match PyTorch's ``torch.optim.SGD`` and ``torch.optim.Adam``,
equations (O1)-(O6) and (O10) in docs/derivations.md. Symbols there: momentum
kappa, SGD velocity xi (``v`` here), Adam's decay rates rho_1, rho_2
(``betas``) and small constant delta (``eps``).

Weight decay is coupled L2 (O3): lambda p is added to the gradient before the
update, as PyTorch's ``weight_decay`` does; it is not AdamW's decoupled
decay. It decays *every* array passed to :meth:`Optimizer.step`: in training
that is all weights, all biases and a loss's learned log-variance.

:func:`learning_rate` gives the schedules (O7)-(O9).

This is the reference code: :meth:`Optimizer.step` is a plain loop over the
parameters. The faster step that training uses, with the same parameters to
the last bit (large parameters in pieces on every core, subnormal moments set
to 0), lives in scratchdae/fast.py: ``fast.accelerate(opt)`` switches an
optimizer onto it.
"""
import math
from typing import Any

from .backend import Array, backend_of
from .validation import check_fraction, check_positive


def _check_weight_decay(weight_decay):
    """lambda of (O3): a number from 0 to 1 (larger pulls the weights to zero faster than any data can move them)."""
    if not isinstance(weight_decay, (int, float)) or isinstance(weight_decay, bool) or not 0 <= weight_decay <= 1:
        raise ValueError(f"weight_decay must be a number from 0 to 1, got {weight_decay!r} (larger pulls the weights "
                         "to zero faster than any data can move them). Fix: e.g. weight_decay=1e-4.")
    return float(weight_decay)


def _check_names(params, grads):
    """Raise unless ``params`` and ``grads`` name the same arrays."""
    if set(params) != set(grads):
        raise ValueError(f"params and grads must have the same names; got {sorted(params)} and {sorted(grads)}.")


class Optimizer:
    """Base class: :meth:`step` updates parameters in place, by the rule of a subclass's ``_update``."""

    keys = ()  # names of the per-parameter state arrays saved in checkpoints
    scratch = ("tmp", "g")  # per-parameter work buffers, never saved

    def __init__(self, lr: float, weight_decay: float = 0.0) -> None:
        self.lr = check_positive(lr, "learning rate lr")
        self.weight_decay = _check_weight_decay(weight_decay)
        self.state = {}  # name -> dict of arrays (moments and scratch buffers)
        self.t = 0  # steps taken

    def _buffers(self, name, p):
        st = self.state.get(name)
        if st is None:
            xp = backend_of(p).xp
            st = self.state[name] = {k: xp.zeros_like(p) for k in self.keys + self.scratch}
        return st

    def _gradient(self, p, g, out):
        """g + lambda p (O3), written into ``out``; returns the array holding it.

        Applied to every parameter alike (weights, biases, log-variances): coupled L2, not AdamW.
        """
        if not self.weight_decay:
            return g
        backend_of(p).xp.multiply(p, self.weight_decay, out=out)
        out += g  # (O3)
        return out

    def step(self, params: dict[str, Array], grads: dict[str, Array]) -> None:
        """One update of every parameter, in place: weight decay (O3), then the optimizer's rule.

        The reference loop, one parameter after another. :func:`scratchdae.fast.accelerate` switches
        an optimizer onto a faster step that gives the same parameters to the last bit.
        """
        _check_names(params, grads)
        self.t += 1
        for name, p in params.items():
            st = self._buffers(name, p)  # the state arrays and scratch buffers of this parameter
            g = self._gradient(p, grads[name], st["g"])  # (O3) g + lambda p
            self._update(p, g, st)  # the rule of SGD or Adam

    def state_arrays(self) -> dict[str, Array]:
        """Flat dict ``name/key -> array`` of the state to save in a checkpoint."""
        return {f"{n}/{k}": st[k] for n, st in self.state.items() for k in self.keys}

    def load_state_arrays(self, arrays: dict[str, Array], params: dict[str, Array], t: int) -> None:
        """Restore :meth:`state_arrays` output (NumPy or CuPy arrays) for ``params``."""
        self.t = int(t)
        for key, a in arrays.items():
            name, _, k = key.rpartition("/")
            if name not in params or k not in self.keys:
                raise ValueError(f"optimizer state {key!r} does not fit this model and optimizer.")
            p = params[name]
            if tuple(a.shape) != tuple(p.shape):
                raise ValueError(f"optimizer state {key!r} has shape {tuple(a.shape)}, expected {tuple(p.shape)}.")
            self._buffers(name, p)[k][...] = backend_of(p).asarray(a, dtype=p.dtype)

    def config(self) -> dict[str, Any]:
        """The settings as a dict: ``name``, ``lr``, ``weight_decay`` (and a subclass's own)."""
        return {"name": self.name, "lr": self.lr, "weight_decay": self.weight_decay}


class SGD(Optimizer):
    r"""SGD with optional (Nesterov) momentum.

    xi <- kappa xi + g;  p <- p - lr xi                        (O1)
    Nesterov: xi <- kappa xi + g;  p <- p - lr (g + kappa xi)  (O2)

    kappa is ``momentum``; the velocity xi is stored as ``v``. Nesterov uses
    the velocity *after* this step's update.
    """

    name = "sgd"
    keys = ("v",)

    def __init__(self, lr: float = 0.1, momentum: float = 0.9, nesterov: bool = False,
                 weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        self.momentum = check_fraction(momentum, "momentum", closed_right=False)
        if nesterov and not self.momentum:
            raise ValueError("Nesterov momentum needs momentum > 0. Fix: e.g. momentum=0.9 or nesterov=False.")
        self.nesterov = bool(nesterov)

    def _update(self, p, g, st):
        xp = backend_of(p).xp
        v, tmp = st["v"], st["tmp"]
        step = g
        if self.momentum:
            if self.t == 1:
                v[...] = g  # (O1) with xi = 0 before: PyTorch starts the velocity at the first gradient
            else:
                v *= self.momentum
                v += g  # (O1) xi <- kappa xi + g
            step = v
            if self.nesterov:
                xp.multiply(v, self.momentum, out=tmp)
                tmp += g  # (O2) g + kappa xi, with xi already updated
                step = tmp
        xp.multiply(step, self.lr, out=tmp)
        p -= tmp  # (O1)/(O2)

    def config(self) -> dict[str, Any]:
        """The settings as a dict: the base class's, ``momentum`` and ``nesterov``."""
        return {**super().config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    r"""Adam (Kingma and Ba 2015).

    m <- rho1 m + (1 - rho1) g                             (O4)
    v <- rho2 v + (1 - rho2) g^2                           (O5)
    p <- p - lr m_hat / (sqrt(v_hat) + delta)              (O6)
    with m_hat = m / (1 - rho1^t), v_hat = v / (1 - rho2^t);
    computed as the equal (O10), the corrections folded into two scalars.

    ``betas = (rho1, rho2)`` (``b1``, ``b2``) and ``eps = delta``. The first
    step is lr g / (|g| + delta): about lr sign(g) only where |g| >> delta.
    """

    name = "adam"
    keys = ("m", "v")

    def __init__(self, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        b1, b2 = betas
        self.b1 = check_fraction(b1, "beta1", closed_right=False)
        self.b2 = check_fraction(b2, "beta2", closed_right=False)
        self.eps = check_positive(eps, "eps")

    def _update(self, p, g, st):
        xp = backend_of(p).xp
        m, v, tmp = st["m"], st["v"], st["tmp"]
        m *= self.b1
        xp.multiply(g, 1 - self.b1, out=tmp)
        m += tmp  # (O4)
        v *= self.b2
        xp.multiply(g, g, out=tmp)
        tmp *= 1 - self.b2
        v += tmp  # (O5)
        # (O6) rewritten as (O10), the bias corrections folded into two host scalars, one pass fewer:
        # lr m_hat / (sqrt(v_hat) + delta) = [lr sqrt(bc2) / bc1] m / (sqrt(v) + delta sqrt(bc2))
        bc1, sqrt_bc2 = 1 - self.b1**self.t, math.sqrt(1 - self.b2**self.t)  # 1 - rho1^t, sqrt(1 - rho2^t)
        xp.sqrt(v, out=tmp)
        tmp += self.eps * sqrt_bc2  # (O10) sqrt(v) + delta sqrt(bc2)
        xp.divide(m, tmp, out=tmp)
        tmp *= self.lr * sqrt_bc2 / bc1  # (O10) the folded step size
        p -= tmp  # (O6) = (O10)

    def config(self) -> dict[str, Any]:
        """The settings as a dict: the base class's, ``betas`` and ``eps``."""
        return {**super().config(), "betas": [self.b1, self.b2], "eps": self.eps}


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def get_optimizer(name: str | Optimizer = "adam", **kwargs: Any) -> Optimizer:
    """An optimizer by name (``sgd`` or ``adam``); keyword arguments go to its constructor."""
    if isinstance(name, Optimizer):
        return name
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; expected one of: {', '.join(OPTIMIZERS)}.")
    return OPTIMIZERS[name](**kwargs)


def learning_rate(base_lr: float, epoch: int, n_epochs: int, schedule: str | None = "constant") -> float:
    r"""The learning rate for ``epoch`` (0-based) under a schedule.

    ``constant`` (O7): base_lr;
    ``cosine`` (O8): base_lr (1 + cos(pi epoch / max(n_epochs, 1))) / 2, never 0 in a run;
    ``step:K:F`` (O9): base_lr F^floor(epoch / K), multiplying by F every K epochs (e.g. ``step:10:0.5``);
    docs/derivations.md writes the period K as T and the factor F as phi.
    """
    check_positive(base_lr, "base learning rate")
    if not (isinstance(epoch, int) and isinstance(n_epochs, int) and 0 <= epoch and n_epochs >= 1):
        raise ValueError(f"epoch must be an integer >= 0 and n_epochs >= 1, got epoch={epoch!r}, "
                         f"n_epochs={n_epochs!r}. Fix: learning_rate(1e-3, 0, 30, 'cosine').")
    if schedule in (None, "constant"):
        return base_lr  # (O7)
    if schedule == "cosine":
        return base_lr * 0.5 * (1 + math.cos(math.pi * epoch / max(n_epochs, 1)))  # (O8)
    parts = str(schedule).split(":")
    if parts[0] == "step" and len(parts) == 3:
        try:
            every, factor = int(parts[1]), float(parts[2])
        except ValueError:
            every = factor = None
        if every and every > 0 and factor and 0 < factor <= 1:  # a step schedule decays
            return base_lr * factor ** (epoch // every)  # (O9)
    raise ValueError(f"unknown learning-rate schedule {schedule!r}; expected constant, cosine or step:K:F "
                     "with K >= 1 epochs and a factor F in (0, 1] (e.g. step:10:0.5).")
