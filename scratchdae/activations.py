r"""Elementwise activations a = f(z), each with its derivative.

Every activation has ``forward(z) -> a`` and ``backward(da, z, a) -> dz``,
where ``dz = da * f'(z)`` (the chain rule, elementwise). ``backward`` gets both
``z`` and ``a`` so it can use whichever makes f' cheap: sigmoid and tanh
reuse their output, and so does ReLU (a > 0 exactly where z > 0).

Speed: ``forward(z, out=z)`` computes a in z's own memory, one pass with no
new array. A layer does that whenever the activation's backward reads only a
(``uses_input`` is False), and then keeps no z at all; softplus needs z.

Equations (A1)-(A12) are in docs/derivations.md. All lines keep the input's
dtype: Python scalars are "weak" and never upcast a float32 array.
"""
import contextlib

from .backend import Array, backend_of


class Activation:
    """Base class: a parameter-free elementwise layer."""

    name = "activation"
    uses_input = False  # does backward read z? If not, forward may overwrite z with a

    def forward(self, z: Array, out: Array | None = None) -> Array:
        """a = f(z), elementwise; into ``out`` (which may be z itself) when given."""
        raise NotImplementedError

    def backward(self, da: Array, z: Array, a: Array) -> Array:
        """dz = da * f'(z), elementwise (the chain rule), from z or a, whichever makes f' cheap."""
        raise NotImplementedError

    def __repr__(self):
        return self.name


class Identity(Activation):
    """The identity, a = z  (A1)-(A2): a linear output, such as a Gaussian mean or Bernoulli logits."""

    name = "identity"

    def forward(self, z: Array, out: Array | None = None) -> Array:
        """a = z  (A1)."""
        if out is None or out is z:
            return z  # (A1)
        out[...] = z
        return out

    def backward(self, da: Array, z: Array, a: Array) -> Array:
        """dz = da, since f'(z) = 1  (A2)."""
        return da  # (A2)


class Sigmoid(Activation):
    """The logistic function, a = 1 / (1 + exp(-z))  (A3)-(A4)."""

    name = "sigmoid"

    def forward(self, z: Array, out: Array | None = None) -> Array:
        """a = sigm(z), computed stably  (A3)."""
        return sigmoid(z, out=out)

    def backward(self, da: Array, z: Array, a: Array) -> Array:
        """dz = da a (1 - a), from the output a  (A4)."""
        dz = 1 - a  # one new array, then in place: no temporaries
        dz *= a
        dz *= da  # (A4) da a (1 - a)
        return dz


class Tanh(Activation):
    """The hyperbolic tangent, a = tanh z  (A5)-(A6)."""

    name = "tanh"

    def forward(self, z: Array, out: Array | None = None) -> Array:
        """a = tanh z  (A5)."""
        return backend_of(z).xp.tanh(z, out=out)  # (A5)

    def backward(self, da: Array, z: Array, a: Array) -> Array:
        """dz = da (1 - a^2), from the output a  (A6)."""
        return da * (1 - a * a)  # (A6)


class ReLU(Activation):
    """The rectified linear unit, a = max(z, 0)  (A7)-(A8)."""

    name = "relu"

    def forward(self, z: Array, out: Array | None = None) -> Array:
        """a = max(z, 0)  (A7)."""
        return backend_of(z).xp.maximum(z, 0, out=out)  # (A7)

    def backward(self, da: Array, z: Array, a: Array) -> Array:
        """dz = da [z > 0], read from the output (a > 0 exactly where z > 0); 0 at the kink  (A8)."""
        return da * (a > 0)  # (A8) the bool mask multiplies as 0/1 in da's dtype


class LeakyReLU(Activation):
    """Leaky ReLU: a = z for z > 0, alpha z otherwise  (A9)-(A10)."""

    name = "leaky_relu"

    def __init__(self, alpha: float = 0.01) -> None:
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"leaky ReLU slope alpha must be in [0, 1), got {alpha!r}. Fix: use e.g. alpha=0.01.")
        self.alpha = float(alpha)

    uses_input = True  # its backward reads z

    def forward(self, z: Array, out: Array | None = None) -> Array:
        """a = z where z > 0, alpha z elsewhere  (A9)."""
        xp = backend_of(z).xp
        a = xp.where(z > 0, z, self.alpha * z)  # (A9)
        if out is None:
            return a
        out[...] = a
        return out

    def backward(self, da: Array, z: Array, a: Array) -> Array:
        """dz = da where z > 0, alpha da elsewhere  (A10)."""
        return backend_of(z).xp.where(z > 0, da, self.alpha * da)  # (A10)

    def __repr__(self):
        return f"leaky_relu({self.alpha:g})"


class Softplus(Activation):
    """Softplus, a smooth ReLU: a = log(1 + exp(z))  (A11)-(A12)."""

    name = "softplus"
    uses_input = True  # backward needs sigm(z)

    def forward(self, z: Array, out: Array | None = None) -> Array:
        """a = log(1 + exp(z)), computed stably  (A11)."""
        a = softplus(z)
        if out is None:
            return a
        out[...] = a
        return out

    def backward(self, da: Array, z: Array, a: Array) -> Array:
        """dz = da sigm(z)  (A12)."""
        return da * sigmoid(z)  # (A12) softplus'(z) = sigmoid(z)


def sigmoid(z: Array, out: Array | None = None) -> Array:
    """The logistic function 1 / (1 + exp(-z))  (A3), in four in-place passes.

    For z below about -88 (float32), exp(-z) overflows to inf, and 1 / (1 + inf)
    is exactly 0, sigm's limit: the overflow is harmless, so its warning is
    silenced, and no NaN can appear. ``out`` may be z itself.
    """
    xp = backend_of(z).xp
    with _ignore_overflow(xp):
        a = xp.negative(z, out=out)
        xp.exp(a, out=a)
        a += 1
        return xp.reciprocal(a, out=a)  # (A3)


def _ignore_overflow(xp):
    """NumPy's errstate(over="ignore"); CuPy never warns."""
    return xp.errstate(over="ignore") if hasattr(xp, "errstate") else contextlib.nullcontext()


def softplus(z: Array) -> Array:
    """Numerically stable log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|)) (A11)."""
    xp = backend_of(z).xp
    return xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))  # (A11)


ACTIVATIONS = {
    "identity": Identity,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "softplus": Softplus,
}


def get_activation(name: str | Activation) -> Activation:
    """An activation instance from its name (or pass an instance through)."""
    if isinstance(name, Activation):
        return name
    if name not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {name!r}; expected one of: {', '.join(ACTIVATIONS)}. Fix: e.g. activation='relu'."
        )
    return ACTIVATIONS[name]()
