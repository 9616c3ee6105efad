r"""Optimizers that update parameters in place, without needless temporaries.

``step(params, grads)`` takes two dicts with the same names (the model's
:meth:`~scratchdae.model.Autoencoder.parameters` and the grads from its
backward). Updates are written into the parameter arrays, so tied weights stay
tied and nothing is reallocated. Each parameter gets one scratch buffer, made
once, in the parameter's own dtype: a float32 step never touches float64.

The update rules match PyTorch's ``torch.optim.SGD`` and ``torch.optim.Adam``
(weight decay as an L2 term added to the gradient), equations (O1)-(O6) in
docs/derivations.md. :func:`learning_rate` gives the optional schedules.
"""
import math

from .backend import backend_of
from .validation import check_fraction, check_positive


def _check_weight_decay(weight_decay):
    if not isinstance(weight_decay, (int, float)) or not weight_decay >= 0:
        raise ValueError(f"weight_decay must be a number >= 0, got {weight_decay!r}. Fix: e.g. weight_decay=1e-4.")
    return float(weight_decay)


class Optimizer:
    keys = ()  # names of the per-parameter state arrays saved in checkpoints
    scratch = ("tmp", "g")  # per-parameter work buffers, never saved

    def __init__(self, lr, weight_decay=0.0):
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
        """g + lambda p (O3), written into ``out``; returns the array holding it."""
        if not self.weight_decay:
            return g
        backend_of(p).xp.multiply(p, self.weight_decay, out=out)
        out += g  # (O3)
        return out

    def step(self, params, grads):
        """One update of every parameter, in place."""
        if set(params) != set(grads):
            raise ValueError(f"params and grads must have the same names; got {sorted(params)} and {sorted(grads)}.")
        self.t += 1
        for name, p in params.items():
            st = self._buffers(name, p)
            self._update(p, self._gradient(p, grads[name], st["g"]), st)

    def state_arrays(self):
        """Flat dict ``name/key -> array`` of the state to save in a checkpoint."""
        return {f"{n}/{k}": st[k] for n, st in self.state.items() for k in self.keys}

    def load_state_arrays(self, arrays, params, t):
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

    def config(self):
        return {"name": self.name, "lr": self.lr, "weight_decay": self.weight_decay}


class SGD(Optimizer):
    r"""SGD with optional (Nesterov) momentum.

    v <- mu v + g;  p <- p - lr v            (O1)
    Nesterov: p <- p - lr (g + mu v)         (O2)
    """

    name = "sgd"
    keys = ("v",)

    def __init__(self, lr=0.1, momentum=0.9, nesterov=False, weight_decay=0.0):
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
                v[...] = g  # PyTorch starts the velocity at the first gradient
            else:
                v *= self.momentum
                v += g  # (O1) v <- mu v + g
            step = v
            if self.nesterov:
                xp.multiply(v, self.momentum, out=tmp)
                tmp += g  # (O2) g + mu v
                step = tmp
        xp.multiply(step, self.lr, out=tmp)
        p -= tmp  # (O1)/(O2)

    def config(self):
        return {**super().config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    r"""Adam (Kingma and Ba 2015).

    m <- b1 m + (1 - b1) g                                 (O4)
    v <- b2 v + (1 - b2) g^2                               (O5)
    p <- p - lr m_hat / (sqrt(v_hat) + eps)                (O6)
    with m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t).
    """

    name = "adam"
    keys = ("m", "v")

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
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
        # (O6) with the bias corrections folded into two host scalars, one pass fewer:
        # lr m_hat / (sqrt(v_hat) + eps) = [lr sqrt(bc2) / bc1] m / (sqrt(v) + eps sqrt(bc2))
        bc1, sqrt_bc2 = 1 - self.b1**self.t, math.sqrt(1 - self.b2**self.t)
        xp.sqrt(v, out=tmp)
        tmp += self.eps * sqrt_bc2
        xp.divide(m, tmp, out=tmp)
        tmp *= self.lr * sqrt_bc2 / bc1
        p -= tmp  # (O6)

    def config(self):
        return {**super().config(), "betas": [self.b1, self.b2], "eps": self.eps}


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def get_optimizer(name="adam", **kwargs):
    """An optimizer by name (``sgd`` or ``adam``); keyword arguments go to its constructor."""
    if isinstance(name, Optimizer):
        return name
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; expected one of: {', '.join(OPTIMIZERS)}.")
    return OPTIMIZERS[name](**kwargs)


def learning_rate(base_lr, epoch, n_epochs, schedule="constant"):
    r"""The learning rate for ``epoch`` (0-based) under a schedule.

    ``constant``; ``cosine``: base_lr (1 + cos(pi epoch / n_epochs)) / 2;
    ``step:K:F``: multiply by F every K epochs (e.g. ``step:10:0.5``).
    """
    if schedule in (None, "constant"):
        return base_lr
    if schedule == "cosine":
        return base_lr * 0.5 * (1 + math.cos(math.pi * epoch / max(n_epochs, 1)))
    parts = str(schedule).split(":")
    if parts[0] == "step" and len(parts) == 3:
        try:
            every, factor = int(parts[1]), float(parts[2])
        except ValueError:
            every = factor = None
        if every and every > 0 and factor and factor > 0:
            return base_lr * factor ** (epoch // every)
    raise ValueError(f"unknown learning-rate schedule {schedule!r}; expected constant, cosine or step:K:F "
                     "(e.g. step:10:0.5).")
