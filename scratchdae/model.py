r"""Stacks of layers, and the autoencoder built from layer sizes.

:class:`Sequential` chains layers: forward keeps one cache per layer, backward
walks them in reverse (the chain rule, (D4) feeding the layer below).

:class:`Autoencoder` is an encoder E and a decoder Dec (hidden layers, then
one or two heads), trained on the DAE objective

    R(theta) = E_x E_{x~ ~ q(x~|x)} [-log p_theta(x | h = E(x~))]      (DA1)

    h = E(x~)                    the code
    h' = decoder hidden layers(h)  input of the heads (h itself if there are none)
    mu = mean_head(h')           the reconstruction (mean head)
    log_var = var_head(h')       optional second head (per-pixel log-variance omega)

With ``tied=True`` each decoder weight is the transposed encoder weight.
(D stays the pixel count; the decoder is Dec.)
"""
import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

from .backend import Array, Backend, DType, check_dtype, get_backend
from .layers import Dense, TiedDense
from .validation import check_array, check_fits_memory, check_seed


class Sequential:
    """Layers applied in order."""

    def __init__(self, layers: Iterable[Dense]) -> None:
        self.layers = list(layers)

    def forward(self, x: Array) -> tuple[Array, list[tuple]]:
        """x through every layer in order; returns the last output and one cache per layer, for :meth:`backward`."""
        caches = []
        for layer in self.layers:
            x, cache = layer.forward(x)
            caches.append(cache)
        return x, caches

    def backward(self, dout: Array, caches: list[tuple],
                 need_dx: bool = True) -> tuple[Array | None, list[dict[str, Array]]]:
        """Return dL/dx (None when ``need_dx`` is False) and one grads dict per layer."""
        grads = [None] * len(self.layers)
        for i in reversed(range(len(self.layers))):
            dout, grads[i] = self.layers[i].backward(dout, caches[i], need_dx=need_dx or i > 0)
        return dout, grads

    def __len__(self):
        return len(self.layers)

    def __repr__(self):
        inner = "\n".join(f"  ({i}) {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"


def layer_sizes(hidden: int | Sequence[int], name: str = "hidden") -> tuple[int, ...]:
    """Layer sizes as a tuple of positive ints; ``decoder_hidden`` may be empty (decode the code directly)."""
    if isinstance(hidden, numbers.Integral):
        hidden = (hidden,)
    if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__"):
        raise ValueError(f"{name} must be layer sizes, a number or a list of numbers, got {hidden!r}. "
                         f"Fix: e.g. {name}=(1000,) or (512, 128).")
    hidden = tuple(int(h) if isinstance(h, numbers.Integral) and not isinstance(h, bool) else h for h in hidden)
    ok = all(isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in hidden)
    if not ok or (not hidden and name == "hidden"):
        raise ValueError(f"{name} must be {'one or more' if name == 'hidden' else 'zero or more'} positive layer "
                         f"sizes, got {hidden!r}. Fix: e.g. {name}=(1000,) or (512, 128).")
    return hidden


def parameter_shapes(n_in: int, hidden: int | Sequence[int], *, decoder_hidden: Sequence[int] | None = None,
                     n_out: int | None = None, tied: bool = False, variance_head: bool = False,
                     **_: Any) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every parameter of an :class:`Autoencoder` of these sizes, worked
    out in Python integers before anything is allocated (a size typed by mistake cannot
    overflow, and a model file can be checked before its weights are built)."""
    n_out = n_in if n_out is None else n_out
    hidden = list(layer_sizes(hidden))
    mirror = hidden[-2::-1]
    decoder_hidden = mirror if decoder_hidden is None else list(layer_sizes(decoder_hidden, "decoder_hidden"))
    shapes = {}
    enc, dec = [n_in, *hidden], [hidden[-1], *decoder_hidden, n_out]
    for i, (a, b) in enumerate(zip(enc[:-1], enc[1:])):
        shapes.update({f"encoder.{i}.W": (a, b), f"encoder.{i}.b": (b,)})
    heads = [f"decoder.{i}" for i in range(len(dec) - 2)] + ["mean_head"]
    for name, (a, b) in zip(heads, zip(dec[:-1], dec[1:])):
        if not tied:  # a tied layer's weight is its encoder layer's, already named
            shapes[f"{name}.W"] = (a, b)
        shapes[f"{name}.b"] = (b,)
    if variance_head:
        shapes.update({"var_head.W": (dec[-2], n_out), "var_head.b": (n_out,)})
    return shapes


def parameter_count(**config: Any) -> int:
    """How many numbers an :class:`Autoencoder` with this ``config`` holds (nothing allocated)."""
    return sum(math.prod(shape) for shape in parameter_shapes(**config).values())


class Autoencoder:
    r"""A dense (denoising) autoencoder from layer sizes.

    Trained, with a loss and a corruption q, to minimise the DAE objective
    (DA1): the expected -log p(x | E(x~)) over data x and corruptions x~,
    estimated on each minibatch by (L1) with fresh noise.

    Parameters
    ----------
    n_in : int
        Input size D (784 for 28x28 digits).
    n_out : int, optional
        Output size; by default ``n_in`` (an autoencoder proper). A document
        model maps a noisy window plus context features to a smaller clean patch.
    hidden : int or sequence of int
        Encoder sizes, e.g. ``1000`` (784-1000-784) or ``(512, 128)``
        (784-512-128-512-784). Larger than ``n_in`` is overcomplete.
    decoder_hidden : sequence of int, optional
        The decoder's hidden sizes, between the code and the output. By
        default the decoder mirrors the encoder (``hidden`` reversed, less
        the code itself); ``hidden=128, decoder_hidden=(128,)`` gives
        2-128-128-2 for 2-D points. ``()`` decodes the code directly.
    activation : str
        Hidden-unit activation.
    output_activation : str
        Activation of the mean head: ``sigmoid`` for pixels in [0, 1],
        ``identity`` for logits (Bernoulli) or unbounded data.
    tied : bool
        Decoder weights are the encoder weights transposed.
    variance_head : bool
        Add a second decoder head that predicts a per-pixel log-variance.
    seed : int, optional
        Seed of the initialisation (reproducible on NumPy).
    backend, dtype : see :mod:`scratchdae.backend`.
    """

    def __init__(self, n_in: int, hidden: int | Sequence[int] = (1000,), *, decoder_hidden: Sequence[int] | None = None,
                 n_out: int | None = None, activation: str = "relu", output_activation: str = "sigmoid",
                 tied: bool = False, variance_head: bool = False, seed: int | None = None,
                 backend: str | Backend | None = None, dtype: DType = "float32") -> None:
        n_out = n_in if n_out is None else n_out
        for n, label in ((n_in, "n_in"), (n_out, "n_out")):
            if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
                raise ValueError(f"{label} must be a positive int, got {n!r}. Fix: e.g. {label}=784.")
        n_in, n_out = int(n_in), int(n_out)
        seed = check_seed(seed, none_ok=True)
        hidden = list(layer_sizes(hidden))
        mirror = hidden[-2::-1]  # 784-512-128 decodes through 512
        decoder_hidden = mirror if decoder_hidden is None else list(layer_sizes(decoder_hidden, "decoder_hidden"))
        if tied and (n_out != n_in or decoder_hidden != mirror):
            raise ValueError(f"tied weights need a decoder that mirrors the encoder (decoder_hidden={mirror}, as "
                             f"many outputs as inputs), got decoder_hidden={decoder_hidden}, n_in={n_in}, "
                             f"n_out={n_out}. Fix: drop tied=True, or decoder_hidden.")
        self.config = dict(n_in=n_in, hidden=hidden, decoder_hidden=decoder_hidden, n_out=n_out,
                           activation=str(activation), output_activation=str(output_activation), tied=bool(tied),
                           variance_head=bool(variance_head))
        self.backend = get_backend(backend)
        self.dtype = check_dtype(dtype)
        n_params = parameter_count(**self.config)
        sizes = "-".join(map(str, [n_in, *hidden, *decoder_hidden, n_out]))
        check_fits_memory(n_params * self.dtype.itemsize, f"a {sizes} autoencoder ({n_params:,} parameters)",
                          "choose smaller layers, e.g. --hidden 1000.")
        rng = self.backend.rng(seed)
        kw = dict(backend=self.backend, dtype=self.dtype)
        sizes = [n_in, *hidden]
        enc = [Dense(a, b, activation, rng=rng, **kw) for a, b in zip(sizes[:-1], sizes[1:])]
        self.encoder = Sequential(enc)
        # the decoder runs from the code through decoder_hidden; its last layer is the mean head
        dec_sizes = [hidden[-1], *decoder_hidden]
        if tied:  # mirrored: each decoder layer is an encoder layer transposed
            dec = [TiedDense(enc[i], activation, **kw) for i in reversed(range(1, len(enc)))]
        else:
            dec = [Dense(a, b, activation, rng=rng, **kw) for a, b in zip(dec_sizes[:-1], dec_sizes[1:])]
        self.decoder = Sequential(dec)
        if tied:
            self.mean_head = TiedDense(enc[0], output_activation, **kw)
        else:
            self.mean_head = Dense(dec_sizes[-1], n_out, output_activation, rng=rng, **kw)
        self.var_head = (Dense(dec_sizes[-1], n_out, "identity", init="glorot", rng=rng, **kw)
                         if variance_head else None)
        self._index_parameters()

    # -- parameters -----------------------------------------------------
    def _named_layers(self):
        for i, layer in enumerate(self.encoder.layers):
            yield f"encoder.{i}", layer
        for i, layer in enumerate(self.decoder.layers):
            yield f"decoder.{i}", layer
        yield "mean_head", self.mean_head
        if self.var_head is not None:
            yield "var_head", self.var_head

    def _index_parameters(self):
        """Name every parameter once; a tied (shared) array keeps its first name."""
        self._params, self._key = {}, {}  # name -> array; (layer name, key) -> name
        seen = {}
        for lname, layer in self._named_layers():
            for k, p in layer.params.items():
                name = seen.setdefault(id(p), f"{lname}.{k}")
                self._key[(lname, k)] = name
                self._params.setdefault(name, p)

    def parameters(self) -> dict[str, Array]:
        """Dict name -> array, each array once. Optimizers update these in place."""
        return dict(self._params)

    def n_parameters(self) -> int:
        """How many numbers the parameters hold (a tied weight counted once)."""
        return int(sum(p.size for p in self._params.values()))

    def load_parameters(self, arrays: dict[str, Array]) -> None:
        """Copy arrays (NumPy or CuPy) into the parameters, in place, checking names and shapes."""
        missing = sorted(set(self._params) - set(arrays))
        extra = sorted(set(arrays) - set(self._params))
        if missing or extra:
            raise ValueError(f"parameter names do not match this model: missing {missing}, unexpected {extra}.")
        for name, p in self._params.items():
            a = arrays[name]
            if tuple(a.shape) != tuple(p.shape):
                raise ValueError(f"parameter {name} has shape {tuple(a.shape)}, this model expects {tuple(p.shape)}.")
            p[...] = self.backend.asarray(a, dtype=self.dtype)

    # -- forward / backward ---------------------------------------------
    def forward(self, x: Array) -> tuple[dict[str, Array], tuple]:
        r"""x~ (N, D) -> outputs ``{"mean": (N, D)[, "log_var": (N, D)]}`` and the cache."""
        check_array(x, "x", ndim=2, n_features=self.config["n_in"], dtype=self.dtype, finite=False)
        h, enc_cache = self.encoder.forward(x)  # N,H  the code
        h_prime, dec_cache = self.decoder.forward(h)  # N,H1 h', input of the heads
        mean, mean_cache = self.mean_head.forward(h_prime)  # N,D
        out, var_cache = {"mean": mean}, None
        if self.var_head is not None:
            out["log_var"], var_cache = self.var_head.forward(h_prime)  # N,D
        return out, (enc_cache, dec_cache, mean_cache, var_cache)

    def backward(self, d_out: dict[str, Array], cache: tuple,
                 need_input_grad: bool = True) -> tuple[Array | None, dict[str, Array]]:
        """dL/d(outputs) -> dL/dx~ and a grads dict with the names of :meth:`parameters`.

        Training needs no dL/dx~ (the input is data): ``need_input_grad=False``
        skips that last product (D4), a sixth of the backward pass's work.
        """
        enc_cache, dec_cache, mean_cache, var_cache = cache
        layer_grads = {}
        dh_prime, layer_grads["mean_head"] = self.mean_head.backward(d_out["mean"], mean_cache)  # N,H1
        if self.var_head is not None:
            dh_prime_var, layer_grads["var_head"] = self.var_head.backward(d_out["log_var"], var_cache)  # N,H1
            dh_prime = dh_prime + dh_prime_var  # (D7) both heads read h': their gradients add
        dh, dec_grads = self.decoder.backward(dh_prime, dec_cache)
        dx, enc_grads = self.encoder.backward(dh, enc_cache, need_dx=need_input_grad)
        layer_grads.update({f"decoder.{i}": lg for i, lg in enumerate(dec_grads)})
        layer_grads.update({f"encoder.{i}": lg for i, lg in enumerate(enc_grads)})
        grads = {}
        for lname, lg in layer_grads.items():
            for k, d in lg.items():
                name = self._key[(lname, k)]
                grads[name] = grads[name] + d if name in grads else d  # (D7) tied weights: add both uses
        return dx, grads

    # -- the user-facing maps ---------------------------------------------
    def encode(self, x: Array) -> Array:
        """h = E(x): the learned representation, (N, D) -> (N, H)."""
        check_array(x, "x", ndim=2, n_features=self.config["n_in"], dtype=self.dtype)
        return self.encoder.forward(x)[0]

    def decode(self, h: Array) -> Array:
        """The mean head's output for codes h, (N, H) -> (N, D)."""
        check_array(h, "h", ndim=2, n_features=self.config["hidden"][-1], dtype=self.dtype)
        h_prime = self.decoder.forward(h)[0]  # N,H1
        return self.mean_head.forward(h_prime)[0]

    def reconstruct(self, x: Array) -> Array:
        """Dec(E(x)): the mean head's output for inputs x."""
        return self.decode(self.encode(x))

    def __repr__(self):
        c = self.config
        kind = "overcomplete" if c["hidden"][-1] > c["n_in"] else "undercomplete"
        if c["decoder_hidden"] == c["hidden"][-2::-1] and c["n_out"] == c["n_in"]:
            sizes = [c["n_in"], *c["hidden"]]  # mirrored: 784-1000 means 784-1000-784
        else:
            sizes = [c["n_in"], *c["hidden"], *c["decoder_hidden"], c["n_out"]]
        lines = [f"Autoencoder({'-'.join(map(str, sizes))}, {kind}"
                 f"{', tied' if c['tied'] else ''}, {self.n_parameters():,} parameters, "
                 f"{self.backend.name}/{self.dtype.name})"]
        lines += [f"  {name}: {layer!r}" for name, layer in self._named_layers()]
        return "\n".join(lines)
