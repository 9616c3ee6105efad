r"""Dense layers with hand-written backprop.

A layer holds its parameters in ``params`` (a dict of arrays) and has

* ``forward(x) -> (out, cache)``: ``cache`` is an explicit tuple of what
  ``backward`` needs; nothing is kept on the layer between calls;
* ``backward(dout, cache) -> (dx, grads)``: ``grads`` has the same keys as
  ``params`` (``dW`` is dL/dW, and so on).

Shapes: N examples, I inputs, O outputs. Equations (D1)-(D7) are in
docs/derivations.md.
"""
import math
import numbers

from .activations import Activation, get_activation
from .backend import Array, Backend, DType, Rng, check_dtype, get_backend

INITS = ("glorot", "he")


def init_weight(rng: Rng, n_in: int, n_out: int, init: str, dtype: DType) -> Array:
    """Draw an (n_in, n_out) weight matrix directly in ``dtype``.

    glorot: U(-a, a) with a = sqrt(6 / (n_in + n_out))  (D5), variance 2 / (n_in + n_out).
    he:     N(0, 2 / n_in)                               (D6).

    Glorot's argument assumes f'(0) = 1 (identity, tanh); sigmoid has f'(0) = 1/4,
    so each sigmoid layer shrinks the gradients below it by about 4. We keep
    plain (D5) for it (the classic dA multiplies the bound by 4).
    """
    if init == "glorot":
        a = math.sqrt(6.0 / (n_in + n_out))
        u = rng.random((n_in, n_out), dtype=dtype)  # U(0, 1), I,O
        return u * (2 * a) - a  # (D5)
    if init == "he":
        std = math.sqrt(2.0 / n_in)
        return rng.standard_normal((n_in, n_out), dtype=dtype) * std  # (D6)
    raise ValueError(f"unknown init {init!r}; expected one of: {', '.join(INITS)}.")


def default_init(activation: Activation) -> str:
    """He (D6) for ReLU, leaky ReLU and softplus; Glorot (D5) for identity, sigmoid, tanh.

    Softplus is ReLU smoothed: for z ~ N(0, V), E[softplus(z)^2] / V is 0.92 at
    V = 1 and tends to ReLU's 1/2 as V grows, and E[softplus'(z)^2] = E[sigm(z)^2]
    is 0.29 at V = 1, tending to 1/2. At unit scale the forward pass wants a gain
    of about 1.1 and the backward about 3.4; He's 2 sits between (docs/derivations.md,
    section 2).
    """
    return "he" if activation.name in ("relu", "leaky_relu", "softplus") else "glorot"


class Dense:
    r"""A fully connected layer followed by an activation: a = f(x W + b).

    Parameters
    ----------
    n_in, n_out : int
        Input and output sizes.
    activation : str or Activation
        One of identity, sigmoid, tanh, relu, leaky_relu, softplus.
    init : {"glorot", "he"}, optional
        Weight initialisation; by default He for ReLU-like units, else Glorot.
    rng : generator of the backend, optional
    backend, dtype : see :mod:`scratchdae.backend`.
    """

    def __init__(self, n_in: int, n_out: int, activation: str | Activation = "identity", *, init: str | None = None,
                 rng: Rng | None = None, backend: str | Backend | None = None, dtype: DType = "float32") -> None:
        for n, label in ((n_in, "n_in"), (n_out, "n_out")):
            if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
                raise ValueError(f"Dense {label} must be a positive int, got {n!r}. Fix: e.g. Dense(784, 1000).")
        n_in, n_out = int(n_in), int(n_out)
        self.backend = get_backend(backend)
        self.dtype = check_dtype(dtype)
        self.activation = get_activation(activation)
        self.init = init or default_init(self.activation)
        rng = rng if rng is not None else self.backend.rng()
        xp = self.backend.xp
        self.params = {
            "W": init_weight(rng, n_in, n_out, self.init, self.dtype),  # I,O
            "b": xp.zeros(n_out, dtype=self.dtype),  # O
        }

    @property
    def n_in(self) -> int:
        """I, the number of inputs: the rows of W."""
        return self.params["W"].shape[0]

    @property
    def n_out(self) -> int:
        """O, the number of outputs: the columns of W."""
        return self.params["W"].shape[1]

    def weight(self) -> Array:
        """The (I, O) matrix used in (D1); a tied layer overrides this."""
        return self.params["W"]

    def forward(self, x: Array) -> tuple[Array, tuple]:
        """a = f(x W + b) for a batch x (N, I)  (D1); returns ``(a, cache)``."""
        W, b = self.weight(), self.params["b"]
        z = x @ W  # N,O  the product, a new array ...
        z += b  # (D1) ... with the bias added in place
        if self.activation.uses_input:
            a = self.activation.forward(z)  # N,O  backward will need z: keep it
            return a, (x, z, a)
        a = self.activation.forward(z, out=z)  # N,O  in z's memory: backward reads only a
        return a, (x, None, a)

    def backward(self, da: Array, cache: tuple, need_dx: bool = True) -> tuple[Array | None, dict[str, Array]]:
        """dL/dW (D2), dL/db (D3) and dL/dx (D4) from dL/da, through f by the chain rule.

        Returns ``(dx, {"W": dW, "b": db})``. ``need_dx=False`` skips (D4) for the first
        layer, whose input is data, not a parameter.
        """
        x, z, a = cache
        dz = self.activation.backward(da, z, a)  # N,O  chain rule through f
        dW = x.T @ dz  # (D2) I,O
        db = dz.sum(axis=0)  # (D3) O
        dx = dz @ self.weight().T if need_dx else None  # (D4) N,I
        return dx, {"W": dW, "b": db}

    def __repr__(self):
        return f"Dense({self.n_in} -> {self.n_out}, {self.activation!r})"


class TiedDense(Dense):
    r"""A decoder layer whose weight is an encoder layer's weight transposed.

    ``params["W"]`` is the *same array object* as the encoder's ``W``
    (shape O,I here), so an optimizer that updates it in place updates both,
    and the model adds this layer's dW to the encoder's (the classic dA of
    Vincent et al. 2008). Only the bias is this layer's own.
    """

    def __init__(self, source: Dense, activation: str | Activation = "identity", *,
                 backend: str | Backend | None = None, dtype: DType = "float32") -> None:
        if not isinstance(source, Dense):
            raise TypeError(f"TiedDense needs the Dense layer to tie to, got {type(source).__name__}.")
        self.backend = get_backend(backend)
        self.dtype = check_dtype(dtype)
        self.activation = get_activation(activation)
        self.init = "tied"
        self.params = {
            "W": source.params["W"],  # O,I: shared with the encoder, not a copy
            "b": self.backend.xp.zeros(source.n_in, dtype=self.dtype),  # I
        }

    @property
    def n_in(self) -> int:
        """I, the number of inputs: the columns of the shared (O, I) matrix."""
        return self.params["W"].shape[1]

    @property
    def n_out(self) -> int:
        """O, the number of outputs: the rows of the shared (O, I) matrix."""
        return self.params["W"].shape[0]

    def weight(self) -> Array:
        """The shared matrix transposed, an (I, O) view used in (D1) and (D4)."""
        return self.params["W"].T  # a view, no copy

    def backward(self, da: Array, cache: tuple, need_dx: bool = True) -> tuple[Array | None, dict[str, Array]]:
        """As :meth:`Dense.backward`, with dW (D2) transposed to the shared (O, I) shape.

        The model adds this dW to the encoder layer's, one gradient for the shared matrix (D7).
        """
        dx, grads = super().backward(da, cache, need_dx)
        grads["W"] = grads["W"].T  # (D2) transposed, for the shared (O,I) matrix; the model adds it to the encoder's (D7)
        return dx, grads

    def __repr__(self):
        return f"TiedDense({self.n_in} -> {self.n_out}, {self.activation!r}, W tied)"
