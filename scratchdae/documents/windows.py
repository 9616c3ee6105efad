r"""From pages to windows and back: what the document DAE sees and predicts.

For every pixel the model gets a k x k window of the noisy page, the same
window divided by a local estimate of the paper's brightness (a cheap context
feature: stains and shadows multiply the paper, so dividing them out leaves
mostly ink), and a coarse k x k grid of that ratio over a window three times
wider (is this a line of text, a large watermark, a crease?), and predicts
the clean c x c patch around that pixel. A page of any size is cleaned by sliding the window over every pixel, in bands of rows
(batched on the model's backend), and averaging the c*c overlapping
predictions each pixel receives.

A second stage (a stacked cleaner) reads the same windows of the noisy page
and, beside them, the first stage's cleaned page: its k x k window and a
coarse k x k grid of its means over a much wider view, where a crease the
first stage left as a faint stroke shows as a long line crossing the text.
Where the first stage's window is all paper, the second stage is not run: it
keeps the first stage's patch there (``keep_paper``), which halves its cost.
"""
import numbers
from dataclasses import asdict, dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..backend import to_host
from ..losses import Loss
from ..model import Autoencoder
from ..validation import as_int
from .filters import box_filter, max_filter, min_filter


MAX_SIZE = 99  # pixels: the largest window, patch or background filter
MAX_SPACING = 15  # the widest spacing of a coarse grid: 15 x 99 pixels of view at most


@dataclass(frozen=True)
class WindowSpec:
    """The sizes, in pixels, of what the document model sees and predicts, and of how a page is cleaned."""

    window: int = 9  # k: the input window, k x k
    patch: int = 3  # c: the predicted clean patch, c x c
    background: int = 15  # size of the max filter that estimates the paper
    context: int = 3  # s: a coarse k x k grid of 3x3 means, s pixels apart, covering (s k) x (s k); 0 = none
    stride: int = 1  # cleaning: windows this many pixels apart (1: every pixel; at most `patch`)
    first_view: int = 0  # a second stage: spacing s of its coarse grid over the first stage's output; 0 = a first stage
    keep_paper: float = 0.0  # a second stage keeps the first stage's patch where its k x k window is all >= this

    def __post_init__(self):
        for name in ("window", "patch", "background", "context", "stride", "first_view"):  # NumPy integers are fine
            if isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be an integer, got {getattr(self, name)!r}. Fix: e.g. stride=2.")
            object.__setattr__(self, name, as_int(getattr(self, name)))
        for name in ("context", "first_view"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 0 or (v and v % 2 == 0) or v > MAX_SPACING:
                raise ValueError(f"{name} must be 0 or an odd positive integer up to {MAX_SPACING}, got {v!r}.")
        for name in ("window", "patch", "background"):
            if isinstance(getattr(self, name), int) and getattr(self, name) > MAX_SIZE:
                raise ValueError(f"{name} must be at most {MAX_SIZE} pixels, got {getattr(self, name)!r}.")
        for name in ("window", "patch", "background"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1 or v % 2 == 0:
                raise ValueError(f"{name} must be an odd positive integer, got {v!r}. Fix: e.g. window=9, patch=3.")
        if not isinstance(self.stride, int):
            raise TypeError(f"stride must be an integer (pixels between windows), got {self.stride!r}. Fix: e.g. "
                            "stride=2.")
        if not 1 <= self.stride <= self.patch:
            raise ValueError(f"stride must be between 1 and patch ({self.patch}) so that patches cover every pixel, "
                             f"got {self.stride!r}. Fix: e.g. stride=2.")
        if self.patch > self.window:
            raise ValueError(f"the predicted patch ({self.patch}) cannot be larger than the window ({self.window}). "
                             "Fix: e.g. window=9, patch=5.")
        v = self.keep_paper
        if not isinstance(v, numbers.Real) or isinstance(v, bool) or not 0 <= v <= 1:
            raise ValueError(f"keep_paper must be a brightness in [0, 1] (0: the second stage runs everywhere), got "
                             f"{v!r}. Fix: e.g. keep_paper=0.99.")
        object.__setattr__(self, "keep_paper", float(v))  # a NumPy float too; the header is JSON
        if self.keep_paper and not self.first_view:
            raise ValueError(f"keep_paper ({self.keep_paper}) keeps a first stage's output, and this is a first stage "
                             "(first_view == 0). Fix: keep_paper=0.")

    @property
    def n_features(self) -> int:
        """Inputs per window: k^2 noisy pixels, k^2 ratios to the paper, with ``context`` k^2 coarse means,
        and in a second stage (``first_view``) k^2 pixels of the first stage's output and k^2 coarse means of it."""
        return (2 + bool(self.context) + 2 * bool(self.first_view)) * self.window**2

    @property
    def n_outputs(self) -> int:
        """Outputs per window: the c^2 pixels of the clean patch."""
        return self.patch**2

    def config(self) -> dict[str, int]:
        """The sizes as a dict, for the model header: ``WindowSpec.from_config(spec.config())`` rebuilds it."""
        return asdict(self)

    @classmethod
    def from_config(cls, entries: dict) -> "WindowSpec":
        """The spec a model header's window entry describes. The entries of window features no longer built
        (``REMOVED``) are accepted at 0, their off value; a model that used one is refused, by name."""
        entries = {RENAMED.get(name, name): value for name, value in entries.items()}
        gone = {name: entries.pop(name, 0) for name in REMOVED}
        used = [(name, value) for name, value in gone.items() if value]
        if used:
            name, value = used[0]
            raise RemovedFeature(f"it was trained with {name}={value!r}, a window feature scratchdae no longer "
                                 "builds (measured as changing nothing: docs/documents.md). Fix: retrain without it.")
        return cls(**entries)


# Window features that were built, measured on held-out pages as changing nothing, and removed (docs/documents.md):
# the ratio's mean along 8 lines through the centre, a second, wider paper estimate, the local contrast.
REMOVED = ("lines", "wide_paper", "contrast")
# Older model files call the patch size `out` and the second stage's grid spacing `first`; they load as these.
RENAMED = {"out": "patch", "first": "first_view"}


class RemovedFeature(ValueError):
    """A model file uses a window feature that is no longer built."""


def paper_estimate(page: np.ndarray, spec: WindowSpec) -> np.ndarray:
    """The paper's brightness without the ink: a max filter wider than a stroke, then smoothed."""
    k = spec.background
    return box_filter(max_filter(page, k), k)


def _padded_inputs(page, spec, first_output=None):
    """What the windows are cut from, by name: the noisy page, its ratio to the paper estimate, (with
    context) the ratio's s x s means, and in a second stage the first
    stage's output and its means; each padded so that every pixel has its full window."""
    page = np.asarray(page, dtype=np.float32)
    if spec.first_view and (first_output is None or np.shape(first_output) != page.shape):
        got = "none" if first_output is None else f"shape {np.shape(first_output)}"
        raise ValueError(f"this is a second stage: it reads the first stage's cleaned page beside the noisy one "
                         f"(shape {page.shape}), got {got}. Fix: clean with the whole stacked model "
                         "(load_cleaner(path)), which runs both stages.")
    if not spec.first_view and first_output is not None:
        raise ValueError("a first stage reads the noisy page alone; a first stage's output was given. Fix: drop it.")
    if first_output is not None and not np.isfinite(first_output).all():
        raise ValueError("the first stage's cleaned page holds NaN or inf pixels. Fix: use an intact first stage.")
    ratio = np.clip(page / np.maximum(paper_estimate(page, spec), 0.05), 0, 1.5)
    r = spec.window // 2
    padded = {"page": np.pad(page, r, mode="edge"), "ratio": np.pad(ratio, r, mode="edge")}
    if spec.context:
        padded["context"] = np.pad(box_filter(ratio, spec.context), r * spec.context, mode="edge")
    if spec.first_view:
        first_output = np.asarray(first_output, dtype=np.float32)
        padded["first_output"] = np.pad(first_output, r, mode="edge")
        padded["first_context"] = np.pad(box_filter(first_output, spec.first_view), r * spec.first_view, mode="edge")
    return padded


def _coarse_grid(padded: np.ndarray, k: int, s: int, index: tuple) -> np.ndarray:
    """The k x k grid of every s-th pixel of an (s (k - 1) + 1)-wide window, at the windows ``index`` picks."""
    big = s * (k - 1) + 1
    return sliding_window_view(padded, (big, big))[:, :, ::s, ::s][index]


def _window_features(padded: dict[str, np.ndarray], spec: WindowSpec, index: tuple) -> np.ndarray:
    """(windows, n_features) float32: the features of the windows that ``index`` picks from the
    (H, W) grid of lazy window views, copied, so only what is asked for is built."""
    k = spec.window
    parts = [sliding_window_view(padded["page"], (k, k))[index], sliding_window_view(padded["ratio"], (k, k))[index]]
    if spec.context:
        parts.append(_coarse_grid(padded["context"], k, spec.context, index))
    if spec.first_view:
        parts.append(sliding_window_view(padded["first_output"], (k, k))[index])
        parts.append(_coarse_grid(padded["first_context"], k, spec.first_view, index))
    return np.concatenate([p.reshape(-1, k * k) for p in parts], axis=1)


def features_at(padded: dict[str, np.ndarray], spec: WindowSpec, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(len(rows) * len(cols), n_features) float32: the features of the pixels on a grid (rows x cols)."""
    return _window_features(padded, spec, np.ix_(rows, cols))


def _pixel_rows_cols(pixels, height, width):
    """Flat row-major pixel indices (from -H*W to H*W - 1, as NumPy indexes) as (rows, cols), checked."""
    pixels = np.asarray(pixels)
    if pixels.size == 0:
        pixels = pixels.astype(np.int64).reshape(0)  # [] comes as float64
    if pixels.ndim != 1 or pixels.dtype.kind not in "iu":
        raise ValueError(f"pixels must be a 1-D array of flat pixel indices (integers, row-major), got {pixels.dtype} "
                         f"of shape {pixels.shape}. Fix: for a boolean mask, pass np.flatnonzero(mask).")
    n = height * width
    if pixels.size and (int(pixels.min()) < -n or int(pixels.max()) >= n):
        raise IndexError(f"pixel indices must lie in -{n}..{n - 1} for a {height}x{width} page, got "
                         f"{pixels.min()}..{pixels.max()}.")
    return np.divmod(pixels.astype(np.int64), width)


def page_features(page: np.ndarray, spec: WindowSpec, pixels: np.ndarray | None = None,
                  first_output: np.ndarray | None = None) -> np.ndarray:
    """(H*W, n_features) float32: the features of every pixel, in row-major order; with ``pixels``
    (flat row-major indices), those pixels' features only, in that order. A second stage (``spec.first_view``)
    also needs ``first_output``, the first stage's cleaned page."""
    H, W = np.shape(page)
    padded = _padded_inputs(page, spec, first_output)
    if pixels is None:
        return features_at(padded, spec, np.arange(H), np.arange(W))
    return _window_features(padded, spec, _pixel_rows_cols(pixels, H, W))


def patch_targets(clean: np.ndarray, spec: WindowSpec, pixels: np.ndarray | None = None) -> np.ndarray:
    """(H*W, c^2) float32: the clean c x c patch centred on every pixel; with ``pixels`` (flat
    row-major indices), those pixels' patches only, in that order."""
    r = spec.patch // 2
    H, W = clean.shape
    win = sliding_window_view(np.pad(np.asarray(clean, np.float32), r, mode="edge"), (spec.patch, spec.patch))
    if pixels is None:
        return win.reshape(H * W, -1)
    rows, cols = _pixel_rows_cols(pixels, H, W)
    return win[rows, cols].reshape(len(rows), spec.patch**2)


def grid_positions(n: int, stride: int) -> np.ndarray:
    """0, stride, 2 stride, ... and always the last index, so every pixel is covered."""
    pos = np.arange(0, n, stride)
    return pos if pos[-1] == n - 1 else np.append(pos, n - 1)


def assemble(pred: np.ndarray, rows: np.ndarray, cols: np.ndarray, height: int, width: int,
             spec: WindowSpec) -> np.ndarray:
    """Average the overlapping c x c patches predicted at rows x cols into an (H, W) page (PG1)."""
    c, r = spec.patch, spec.patch // 2
    pred = pred.reshape(len(rows), len(cols), c, c)
    acc = np.zeros((height + 2 * r, width + 2 * r), np.float64)
    for di in range(c):
        for dj in range(c):
            acc[np.ix_(rows + di, cols + dj)] += pred[:, :, di, dj]
    # how many patches cover each pixel: (patches covering its row) x (patches covering its column)
    per_row = np.bincount((rows[:, None] + np.arange(c)).ravel(), minlength=height + 2 * r)
    per_col = np.bincount((cols[:, None] + np.arange(c)).ravel(), minlength=width + 2 * r)
    count = np.outer(per_row[r:r + height], per_col[r:r + width])
    return (acc[r:r + height, r:r + width] / count).astype(np.float32)


def kept_windows(first_output: np.ndarray, spec: WindowSpec) -> np.ndarray:
    """(H, W) bool: the pixels whose k x k window of the first stage's cleaned page is all paper (every
    pixel >= ``spec.keep_paper``); a second stage keeps the first stage's patch there (PG3). All False
    when ``keep_paper`` is 0."""
    if not spec.keep_paper:
        return np.zeros(np.shape(first_output), bool)
    return min_filter(np.asarray(first_output), spec.window) >= spec.keep_paper


def clean_page(model: Autoencoder, loss: Loss, page: np.ndarray, spec: WindowSpec,
               windows_per_batch: int = 4096, first_output: np.ndarray | None = None) -> np.ndarray:
    """Clean one page (H, W) in [0, 1] of any size; returns float32 (H, W) in [0, 1]. A second stage
    (``spec.first_view``) also reads ``first_output``, the first stage's cleaned page.

    Windows sit on a grid ``spec.stride`` pixels apart (every pixel still gets
    at least one prediction, most get several). Features are built on the host
    in batches of about 4,000 windows (large enough for fast matrix products,
    small enough that a layer's output is still in the cache for its bias and
    activation), sent to the model's backend, and the predicted patches are
    averaged back together. A second stage with ``spec.keep_paper`` runs only
    where the first stage's window is not all paper, and keeps the first
    stage's patch elsewhere (PG3).
    """
    page = np.asarray(page, dtype=np.float32)
    if page.ndim != 2 or 0 in page.shape:
        raise ValueError(f"a page must be a grayscale (H, W) array with pixels, got shape {page.shape}. "
                         "Fix: read pages with read_page.")
    if not np.isfinite(page).all():
        raise ValueError("the page holds NaN or inf pixels. Fix: pass intensities in [0, 1].")
    windows_per_batch = as_int(windows_per_batch)
    if not isinstance(windows_per_batch, int) or isinstance(windows_per_batch, bool) or windows_per_batch < 1:
        raise ValueError(f"windows_per_batch must be a positive integer, got {windows_per_batch!r}. Fix: leave it "
                         "at 4096.")
    H, W = page.shape
    padded = _padded_inputs(page, spec, first_output)
    rows, cols = grid_positions(H, spec.stride), grid_positions(W, spec.stride)
    pred = np.empty((len(rows), len(cols), spec.n_outputs), np.float32)
    kept = kept_windows(first_output, spec)[np.ix_(rows, cols)] if spec.keep_paper else np.zeros(pred.shape[:2], bool)
    if kept.any():  # (PG3): the first stage's patch, where its window is all paper
        kr, kc = np.nonzero(kept)
        pred[kr, kc] = patch_targets(np.asarray(first_output, np.float32), spec, rows[kr] * W + cols[kc])
    run_r, run_c = np.nonzero(~kept)  # row-major: a batch is a band of rows, as the page is read
    be = model.backend
    for i in range(0, len(run_r), windows_per_batch):
        r, c = run_r[i:i + windows_per_batch], run_c[i:i + windows_per_batch]
        X = be.asarray(_window_features(padded, spec, (rows[r], cols[c])), dtype=model.dtype)
        pred[r, c] = to_host(loss.reconstruction(model.forward(X)[0]))
    return np.clip(assemble(pred, rows, cols, H, W, spec), 0, 1)
