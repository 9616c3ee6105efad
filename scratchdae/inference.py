r"""Using a model on arrays: the maps a trained DAE gives, in batches.

reconstruct    r(x~) = Dec(E(x~)): the predicted mean, an estimate of E[x | x~]   (S1)
score_field    (r(x) - x) / s^2: an estimate of the score of the smoothed data  (S4)
encode         h = E(x): the representation
evaluate_arrays  mean loss and PSNR of the reconstruction of x~ against x

Everything here works on NumPy or CuPy arrays and keeps no caches (no
backward pass follows). The training loop, the evaluation command, the
figures and the score, probe and sample commands all use these.
"""
import numbers
from collections.abc import Callable

import numpy as np

from .backend import Array, DType, backend_of, overflow_unwarned
from .losses import Loss
from .metrics import psnr
from .model import Autoencoder
from .validation import SIGMA_RANGE, check_array, check_positive


def prepare_images(images: np.ndarray, dtype: DType = "float32") -> np.ndarray:
    """uint8 images (N, H, W) -> float rows (N, H*W) in [0, 1]. The normalisation is saved with the model.

    A stack of images is (N, H, W); an (N, D) array is taken as N images already flattened.
    Pixels must be integers from 0 to 255: floats are refused rather than divided by 255 again.
    """
    images = np.asarray(images)
    if images.ndim not in (2, 3) or images.shape[0] == 0:
        raise ValueError(f"prepare_images takes a stack of images (N, H, W) or flattened rows (N, D), N >= 1, got "
                         f"shape {images.shape}. Fix: for one image, images[None].")
    if images.dtype.kind not in "ui":
        raise TypeError(f"prepare_images scales 0-255 integer pixels to [0, 1], got {images.dtype}. Fix: pass uint8 "
                        "images; floats already in [0, 1] need no preparing (use them as they are, in float32).")
    if images.min() < 0 or images.max() > 255:
        raise ValueError(f"pixels must lie in 0-255, got {images.min()} to {images.max()}. Fix: scale them to 8 bits.")
    if np.dtype(dtype).kind != "f":
        raise TypeError(f"prepare_images makes floats in [0, 1]; dtype {dtype} cannot hold them. Fix: dtype='float32'.")
    rows = images.reshape(len(images), -1).astype(dtype)  # straight to float32: no float64 copy (8 bytes a pixel)
    rows /= 255  # in place; the same numbers as dividing in float64 and rounding
    return rows


def check_model_inputs(model: Autoencoder, x: Array, batch_size: int, loss: Loss | None | bool = False,
                       name: str = "x") -> None:
    """What reconstruct, encode and score_field need: a model (and loss), rows it reads, a batch size.

    Checked by what they do (a model has ``forward``, a loss ``reconstruction``), so a stand-in
    written in class (an exact denoiser, say) works too."""
    if not callable(getattr(model, "forward", None)):
        raise TypeError(f"model must be an Autoencoder, got {type(model).__name__}. Fix: model, loss, header = "
                        "load_model('model.npz').")
    if loss is not False and not callable(getattr(loss, "reconstruction", None)):  # False: no loss needed
        raise TypeError(f"loss must be a Loss, got {type(loss).__name__}. Fix: the loss load_model returns.")
    n_in = getattr(model, "config", {}).get("n_in")
    check_array(x, name, ndim=2, n_features=n_in, dtype=getattr(model, "dtype", None))
    if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}. Fix: batch_size=1000.")


def _batched(fn, x, batch_size, name="x"):
    """fn applied to row batches of x, concatenated; None for no rows. An answer that overflowed is refused."""
    xp = backend_of(x).xp
    with overflow_unwarned(xp):  # the answer is checked below instead
        parts = [fn(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    out = xp.concatenate(parts) if parts else None
    if out is not None and not bool(xp.isfinite(out).all()):  # a reduction: syncs the device
        raise ValueError(f"the network's answer holds NaN or inf: {name}, with values as large as "
                         f"{float(xp.abs(x).max()):.3g}, overflows {x.dtype} inside it. Fix: pass inputs on the scale "
                         "of the training data (images in [0, 1]).")
    return out


def reconstruct(model: Autoencoder, loss: Loss, x_tilde: Array, batch_size: int = 1000) -> Array:
    """The model's predicted mean r(x~) for every row, in batches: the DAE's estimate of E[x | x~]  (S1)."""
    return _reconstruct(model, loss, x_tilde, batch_size, "x_tilde")


def _reconstruct(model, loss, x, batch_size, name):
    check_model_inputs(model, x, batch_size, loss, name)
    out = _batched(lambda b: loss.reconstruction(model.forward(b)[0]), x, batch_size, name)
    return x[:0] if out is None else out


def encode(model: Autoencoder, x: Array, batch_size: int = 1000) -> Array:
    """The code h = E(x) for every row, in batches: (N, D) -> (N, H)."""
    check_model_inputs(model, x, batch_size)
    out = _batched(model.encode, x, batch_size)
    if out is None:  # no rows: no codes, but of the code's width
        return backend_of(x).xp.empty((0, model.config["hidden"][-1]), dtype=x.dtype)
    return out


def score_field(model: Autoencoder, loss: Loss, x: Array, sigma: float, batch_size: int = 1000) -> Array:
    r"""The DAE's estimate of the score of the noise-smoothed data density.

    For a DAE trained on additive Gaussian noise of standard deviation
    ``sigma`` (unclipped), Tweedie's formula (S3) turns the reconstruction
    into a score estimate:

        grad log p_sigma(x)  ~  (r(x) - x) / sigma^2                     (S4)

    p_sigma is the data density blurred by the noise; as sigma -> 0 it
    tends to the score of the data itself, but r(x) - x shrinks as sigma^2
    and becomes hard to learn (S6). Only unclipped Gaussian noise gives a
    score: with masking or salt-and-pepper r(x) still estimates E[x | x~],
    not a gradient (S7).

    Parameters
    ----------
    model, loss : a trained model and its loss (``loss.reconstruction`` gives r)
    x : array (N, D) in the model's dtype, NumPy or CuPy
    sigma : the noise level the model was trained with

    Returns
    -------
    array like x: one score vector per row.
    """
    if getattr(sigma, "ndim", None) == 0:
        sigma = sigma.item()  # a 0-d array
    sigma = check_positive(sigma, "sigma", SIGMA_RANGE)
    xp = backend_of(x).xp
    with overflow_unwarned(xp):  # the answer is checked below instead
        r = _reconstruct(model, loss, x, batch_size, "x")  # N,D  r(x)
        score = (r - x) * (1.0 / sigma**2)  # (S4)
    if score.size and not bool(xp.isfinite(score).all()):  # a reduction: syncs the device
        raise ValueError(f"the score at some of these points is NaN or inf: inputs as large as "
                         f"{float(xp.abs(x).max()):.3g} overflow {x.dtype} inside the network. Fix: pass points on "
                         "the scale of the training data.")
    return score


def evaluate_arrays(model: Autoencoder, loss: Loss, x: Array, x_tilde: Array | Callable[[int, int], Array],
                    batch_size: int = 1000) -> dict[str, float]:
    """Mean loss and PSNR of the reconstruction of x~ against x (host floats; syncs).

    ``x_tilde`` is the corrupted rows, or a function ``(i, j) -> rows i:j of x~``, called for
    each batch in order, so that x~ is never held whole (the training loop draws its fixed
    validation noise this way: the same numbers, a batch at a time).
    """
    if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}. Fix: batch_size=1000.")
    if len(x) == 0:
        raise ValueError("no rows to evaluate on. Fix: pass at least one example.")
    total, sse = 0.0, 0.0
    for i in range(0, len(x), batch_size):
        out = model.forward(x_tilde(i, i + batch_size) if callable(x_tilde) else x_tilde[i:i + batch_size])[0]
        xb = x[i:i + batch_size]
        total += float(loss.forward(out, xb)[0]) * len(xb)
        d = loss.reconstruction(out) - xb
        sse += float((d * d).sum())
    mse = sse / x.size
    return {"loss": total / len(x), "mse": mse, "psnr": psnr(mse)}
