r"""Using a model on arrays: the maps a trained DAE gives, in batches.

reconstruct    r(x~) = Dec(E(x~)): the predicted mean, an estimate of E[x | x~]   (S1)
score_field    (r(x) - x) / s^2: an estimate of the score of the smoothed data  (S4)
encode         h = E(x): the representation
evaluate_arrays  mean loss and PSNR of the reconstruction of x~ against x

Everything here works on NumPy or CuPy arrays and keeps no caches (no
backward pass follows). The training loop, the evaluation command, the
figures and the score, probe and sample commands all use these.
"""
import numpy as np

from .backend import Array, DType, backend_of
from .losses import Loss
from .metrics import psnr
from .model import Autoencoder
from .validation import check_positive


def prepare_images(images: np.ndarray, dtype: DType = "float32") -> np.ndarray:
    """uint8 images (N, H, W) -> float rows (N, H*W) in [0, 1]. The normalisation is saved with the model."""
    images = np.asarray(images)
    return (images.reshape(len(images), -1) / 255.0).astype(dtype)


def _batched(fn, x, batch_size):
    """fn applied to row batches of x, concatenated; None for no rows."""
    xp = backend_of(x).xp
    parts = [fn(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    return xp.concatenate(parts) if parts else None


def reconstruct(model: Autoencoder, loss: Loss, x_tilde: Array, batch_size: int = 1000) -> Array:
    """The model's predicted mean r(x~) for every row, in batches: the DAE's estimate of E[x | x~]  (S1)."""
    out = _batched(lambda b: loss.reconstruction(model.forward(b)[0]), x_tilde, batch_size)
    return x_tilde[:0] if out is None else out


def encode(model: Autoencoder, x: Array, batch_size: int = 1000) -> Array:
    """The code h = E(x) for every row, in batches: (N, D) -> (N, H)."""
    out = _batched(model.encode, x, batch_size)
    return x[:0, :0] if out is None else out


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
    sigma = check_positive(sigma, "sigma")
    r = reconstruct(model, loss, x, batch_size)  # N,D  r(x)
    return (r - x) * (1.0 / sigma**2)  # (S4)


def evaluate_arrays(model: Autoencoder, loss: Loss, x: Array, x_tilde: Array,
                    batch_size: int = 1000) -> dict[str, float]:
    """Mean loss and PSNR of the reconstruction of x~ against x (host floats; syncs)."""
    total, sse = 0.0, 0.0
    for i in range(0, len(x), batch_size):
        out = model.forward(x_tilde[i:i + batch_size])[0]
        xb = x[i:i + batch_size]
        total += float(loss.forward(out, xb)[0]) * len(xb)
        d = loss.reconstruction(out) - xb
        sse += float((d * d).sum())
    mse = sse / x.size
    return {"loss": total / len(x), "mse": mse, "psnr": psnr(mse)}
