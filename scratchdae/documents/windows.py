r"""From pages to windows and back: what the document DAE sees and predicts.

For every pixel the model gets a k x k window of the noisy page plus the same
window divided by a local estimate of the paper's brightness (a cheap context
feature: stains and shadows multiply the paper, so dividing them out leaves
mostly ink), and predicts the clean c x c patch around that pixel. A page of
any size is cleaned by sliding the window over every pixel, in bands of rows
(batched on the model's backend), and averaging the c*c overlapping
predictions each pixel receives.
"""
from dataclasses import asdict, dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .filters import box_filter, max_filter


@dataclass(frozen=True)
class WindowSpec:
    window: int = 9  # k: the input window, k x k
    out: int = 3  # c: the predicted clean patch, c x c
    background: int = 15  # size of the max filter that estimates the paper

    def __post_init__(self):
        for name in ("window", "out", "background"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1 or v % 2 == 0:
                raise ValueError(f"{name} must be an odd positive integer, got {v!r}. Fix: e.g. window=9, out=3.")
        if self.out > self.window:
            raise ValueError(f"the predicted patch ({self.out}) cannot be larger than the window ({self.window}).")

    @property
    def n_features(self):
        return 2 * self.window**2

    @property
    def n_outputs(self):
        return self.out**2

    def config(self):
        return asdict(self)


def paper_estimate(page, spec):
    """The paper's brightness without the ink: a max filter wider than a stroke, then smoothed."""
    k = spec.background
    return box_filter(max_filter(page, k), k)


def _padded_inputs(page, spec):
    """The noisy page and its ratio to the paper estimate, both padded by k // 2."""
    page = np.asarray(page, dtype=np.float32)
    ratio = np.clip(page / np.maximum(paper_estimate(page, spec), 0.05), 0, 1.5)
    r = spec.window // 2
    return [np.pad(a, r, mode="edge") for a in (page, ratio)]


def feature_rows(padded, spec, r0, r1):
    """(n, 2 k^2) float32 features of the pixels in rows r0:r1 (a copy of just that band)."""
    k = spec.window
    parts = [sliding_window_view(a[r0:r1 + k - 1], (k, k)).reshape((r1 - r0) * (a.shape[1] - k + 1), -1)
             for a in padded]
    return np.concatenate(parts, axis=1)


def page_features(page, spec):
    """(H*W, 2 k^2) float32: the noisy window, and the window divided by the paper estimate."""
    return feature_rows(_padded_inputs(page, spec), spec, 0, np.shape(page)[0])


def patch_targets(clean, spec):
    """(H*W, c^2) float32: the clean c x c patch centred on every pixel."""
    r = spec.out // 2
    H, W = clean.shape
    win = sliding_window_view(np.pad(np.asarray(clean, np.float32), r, mode="edge"), (spec.out, spec.out))
    return win.reshape(H * W, -1)


def assemble(pred, height, width, spec):
    """Average the overlapping c x c patches (H*W, c^2) into an (H, W) page."""
    c, r = spec.out, spec.out // 2
    pred = pred.reshape(height, width, c, c)
    acc = np.zeros((height + 2 * r, width + 2 * r), np.float64)
    cnt = np.zeros_like(acc)
    for di in range(c):
        for dj in range(c):
            acc[di:di + height, dj:dj + width] += pred[:, :, di, dj]
            cnt[di:di + height, dj:dj + width] += 1
    return (acc[r:r + height, r:r + width] / cnt[r:r + height, r:r + width]).astype(np.float32)


def clean_page(model, loss, page, spec, rows_per_batch=32):
    """Clean one page (H, W) in [0, 1] of any size; returns float32 (H, W) in [0, 1].

    Features are built on the host a band of rows at a time (about 17,000
    windows for a 540-pixel page: large enough for fast matrix products, small
    enough to stay in cache), sent to the model's backend, and the predicted
    patches are averaged back together.
    """
    from ..backend import to_host

    page = np.asarray(page, dtype=np.float32)
    if page.ndim != 2:
        raise ValueError(f"a page must be a grayscale (H, W) array, got shape {page.shape}.")
    H, W = page.shape
    padded = _padded_inputs(page, spec)
    be = model.backend
    preds = []
    for r0 in range(0, H, rows_per_batch):
        X = be.asarray(feature_rows(padded, spec, r0, min(H, r0 + rows_per_batch)), dtype=model.dtype)
        preds.append(to_host(loss.reconstruction(model.forward(X)[0])))
    return np.clip(assemble(np.concatenate(preds), H, W, spec), 0, 1)
