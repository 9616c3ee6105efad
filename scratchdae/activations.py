r"""Elementwise activations a = f(z), each with its derivative.

Every activation has ``forward(z) -> a`` and ``backward(da, z, a) -> dz``,
where ``dz = da * f'(z)`` (the chain rule, elementwise). ``backward`` gets both
``z`` and ``a`` so it can use whichever makes f' cheap: sigmoid and tanh
reuse their output, ReLU looks at its input.

Equations (A1)-(A12) are in docs/derivations.md. All lines keep the input's
dtype: Python scalars are "weak" and never upcast a float32 array.
"""
from .backend import Array, backend_of


class Activation:
    """Base class: a parameter-free elementwise layer."""

    name = "activation"

    def forward(self, z: Array) -> Array:
        """a = f(z), elementwise."""
        raise NotImplementedError

    def backward(self, da: Array, z: Array, a: Array) -> Array:
        """dz = da * f'(z), elementwise (the chain rule), from z or a, whichever makes f' cheap."""
        raise NotImplementedError

    def __repr__(self):
        return self.name


class Identity(Activation):
    """The identity, a = z  (A1)-(A2): a linear output, such as a Gaussian mean or Bernoulli logits."""

    name = "identity"

    def forward(self, z: Array) -> Array:
        """a = z  (A1)."""
        return z  # (A1)

    def backward(self, da: Array, z: Array, a: Array) -> Array:
        """dz = da, since f'(z) = 1  (A2)."""
        return da  # (A2)


class Sigmoid(Activation):
    """The logistic function, a = 1 / (1 + exp(-z))  (A3)-(A4)."""

    name = "sigmoid"

    def forward(self, z: Array) -> Array:
        """a = sigm(z), computed stably  (A3)."""
        return sigmoid(z)

    def backward(self, da: Array, z: Array, a: Array) -> Array:
        """dz = da a (1 - a), from the output a  (A4)."""
        return da * a * (1 - a)  # (A4)


class Tanh(Activation):
    """The hyperbolic tangent, a = tanh z  (A5)-(A6)."""

    name = "tanh"

    def forward(self, z: Array) -> Array:
        """a = tanh z  (A5)."""
        return backend_of(z).xp.tanh(z)  # (A5)

    def backward(self, da: Array, z: Array, a: Array) -> Array:
        """dz = da (1 - a^2), from the output a  (A6)."""
        return da * (1 - a * a)  # (A6)


class ReLU(Activation):
    """The rectified linear unit, a = max(z, 0)  (A7)-(A8)."""

    name = "relu"

    def forward(self, z: Array) -> Array:
        """a = max(z, 0)  (A7)."""
        return backend_of(z).xp.maximum(z, 0)  # (A7)

    def backward(self, da: Array, z: Array, a: Array) -> Array:
        """dz = da [z > 0], from the input z; 0 at the kink z = 0  (A8)."""
        return da * (z > 0)  # (A8) the bool mask multiplies as 0/1 in da's dtype


class LeakyReLU(Activation):
    """Leaky ReLU: a = z for z > 0, alpha z otherwise  (A9)-(A10)."""

    name = "leaky_relu"

    def __init__(self, alpha: float = 0.01) -> None:
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"leaky ReLU slope alpha must be in [0, 1), got {alpha!r}. Fix: use e.g. alpha=0.01.")
        self.alpha = float(alpha)

    def forward(self, z: Array) -> Array:
        """a = z where z > 0, alpha z elsewhere  (A9)."""
        return backend_of(z).xp.where(z > 0, z, self.alpha * z)  # (A9)

    def backward(self, da: Array, z: Array, a: Array) -> Array:
        """dz = da where z > 0, alpha da elsewhere  (A10)."""
        return backend_of(z).xp.where(z > 0, da, self.alpha * da)  # (A10)

    def __repr__(self):
        return f"leaky_relu({self.alpha:g})"


class Softplus(Activation):
    """Softplus, a smooth ReLU: a = log(1 + exp(z))  (A11)-(A12)."""

    name = "softplus"

    def forward(self, z: Array) -> Array:
        """a = log(1 + exp(z)), computed stably  (A11)."""
        return softplus(z)

    def backward(self, da: Array, z: Array, a: Array) -> Array:
        """dz = da sigm(z)  (A12)."""
        return da * sigmoid(z)  # (A12) softplus'(z) = sigmoid(z)


def sigmoid(z: Array) -> Array:
    """Numerically stable logistic function (A3).

    1 / (1 + exp(-z)) overflows exp for large negative z, so both branches are
    written with e = exp(-|z|) <= 1, which never overflows.
    """
    xp = backend_of(z).xp
    e = xp.exp(-xp.abs(z))  # in (0, 1]
    return xp.where(z >= 0, 1 / (1 + e), e / (1 + e))  # (A3)


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
