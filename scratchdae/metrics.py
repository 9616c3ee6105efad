r"""Image-quality numbers: mean squared error and PSNR.

PSNR with peak value 1 (pixels in [0, 1]):

    PSNR = 10 log10(1 / MSE)                                          (P1)

computed from the MSE over all pixels of all images, so 0.25 (Gaussian noise
with sigma 0.5, unclipped) is 6.02 dB and every halving of the MSE adds 3 dB.
"""
import math

from .backend import Array, backend_of


def mse(a: Array, b: Array) -> float:
    """Mean squared difference over all entries, as a host float (syncs the device)."""
    d = a - b
    return float((d * d).mean())


def psnr(mse_value: float, peak: float = 1.0) -> float:
    """(P1) from an MSE; infinite for a perfect match."""
    return math.inf if mse_value == 0 else 10 * math.log10(peak**2 / mse_value)  # (P1)


def per_image_mse(a: Array, b: Array) -> Array:
    """(N,) array of each image's MSE, on the arrays' backend."""
    d = a - b
    return (d * d).reshape(len(a), -1).mean(axis=1)


def clip01(x: Array) -> Array:
    """Pixels clipped to [0, 1], for display and PNG output."""
    return backend_of(x).xp.clip(x, 0, 1)
