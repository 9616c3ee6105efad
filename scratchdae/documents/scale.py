r"""A page's text size, and cleaning at the size the model was trained on.

The document model reads 9x9 windows with a coarse grid around them: it has
learned what strokes look like at the text sizes of its training pages, and
on text 2.5 times larger (a 300-dpi scan) it sees the inside of a stroke and
takes it for a stain. So a page is cleaned at the training scale: its text
height is estimated, the page is resampled so that its text is as tall as
the training pages' text, cleaned, and resampled back.

The text height is the median height of the ink's connected components,
each weighted by its ink (letters, mostly; a stain or a rule is one
component among hundreds, and specks, rules and borders are left out by
their size). Ink is where the page is darker than 0.7 of its paper (a wide
max filter: stains and shadows divide out, as in the model's own features).
The model file records the heights of its training pages (``text_height``
in its header): a page inside that range is cleaned as it is, taller text
is resampled to the range's middle, shorter text to its low end.

A page of light text on dark paper is told apart here too
(:func:`light_on_dark`); the cleaner cleans its negative.
"""
import numbers
from collections.abc import Callable

import numpy as np

from .filters import box_filter, max_filter, resize

INK = 0.7  # a pixel is ink where it is darker than this fraction of its paper
PAPER_WINDOW = 41  # pixels: the max filter that finds the paper, wider than any stroke we expect
SMALLEST = 3  # pixels: components less tall than this are specks, not letters
MOST_PIXELS = 4_000_000  # a larger page is measured on a shrunken copy (the height scaled back)
# The text heights of the main generator's clean pages (96 training pages, seed 0: 6 to 15 pixels): the range of a
# model file that records none.
GENERATED_TEXT_HEIGHTS = (6.0, 15.0)
MAX_TEXT_HEIGHT = 1000  # pixels: a model file's or a user's text height above this is refused
SMALLEST_SIDE = 9  # pixels: a page resampled below this on a side would be a smudge
MOST_RESAMPLED = 64_000_000  # pixels: a page resampled beyond this would not fit an ordinary machine


def check_page(page: np.ndarray) -> np.ndarray:
    """A page to clean: (H, W) pixels in [0, 1], or 8-bit ones (uint8, divided by 255), checked, as float32."""
    page = np.asarray(page)
    if page.ndim != 2 or 0 in page.shape:
        raise ValueError(f"a page must be a grayscale (H, W) array with pixels, got shape {page.shape}. "
                         "Fix: read pages with read_page.")
    if page.dtype.kind == "c":  # a cast to float32 would drop the imaginary parts with only a warning
        raise ValueError(f"a page's pixels must be real intensities in [0, 1], and this one holds complex "
                         f"({page.dtype}) pixels. Fix: pass the part that is the page, page.real or abs(page).")
    if page.dtype == np.uint8:  # 8-bit intensities, as an image file holds them
        return page.astype(np.float32) / np.float32(255)
    kind = page.dtype
    page = page.astype(np.float32, copy=False)
    if not np.isfinite(page).all():
        raise ValueError(f"the page holds NaN or inf pixels ({kind}). Fix: pass intensities in [0, 1].")
    lo, hi = float(page.min()), float(page.max())
    if lo < 0 or hi > 1:
        raise ValueError(f"a page's pixels must be floats in [0, 1] or 8-bit integers (uint8, 0-255), and this one "
                         f"holds {kind} pixels from {lo:.4g} to {hi:.4g}. Fix: for 8-bit intensities pass them as "
                         "uint8 or divide them by 255 (page / 255); rescale other values into [0, 1] (read_page "
                         "reads a file so).")
    return page


def check_text_heights(heights: tuple[float, float]) -> tuple[float, float]:
    """(low, high): the range of a model's training text heights, pixels, with 1 <= low <= high <= MAX_TEXT_HEIGHT."""
    try:
        low, high = heights
    except (TypeError, ValueError):  # not two values: refused below
        low = high = None
    if not all(isinstance(h, numbers.Real) and not isinstance(h, bool) for h in (low, high)) or not (
            1 <= low <= high <= MAX_TEXT_HEIGHT):
        raise ValueError(f"text heights must be (low, high) pixels with 1 <= low <= high <= {MAX_TEXT_HEIGHT}, got "
                         f"{heights!r}. Fix: e.g. text_heights={GENERATED_TEXT_HEIGHTS}, the generated pages' range.")
    return float(low), float(high)


def ink_mask(page: np.ndarray) -> np.ndarray:
    """(H, W) bool: the pixels darker than INK times the paper around them."""
    page = np.asarray(page, np.float32)
    k = min(PAPER_WINDOW, 2 * (min(page.shape) // 2) + 1)
    paper = box_filter(max_filter(page, k), k)
    return page < INK * np.maximum(paper, 0.05)


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's runs of True in an (H, W) bool mask: (row, start, end) arrays, end exclusive, row by row and
    left to right."""
    edges = np.diff(np.asarray(mask, bool).astype(np.int8), axis=1, prepend=0, append=0)
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)  # the same order as the starts
    return rows, starts, ends


def components(mask: np.ndarray) -> dict[str, np.ndarray]:
    """The 8-connected components of ``mask``: each one's ``height`` and ``width`` (of its bounding box),
    ``area`` (pixels), ``top`` and ``left`` (its bounding box's first row and column); and ``runs``, the
    mask's :func:`runs`, with ``run_label``, the component of each.

    Each row's runs of True are found with ``np.diff``. A run touches the runs
    of the row above whose columns overlap its own or meet it at a corner; as
    the runs of a row are sorted and disjoint, those form one range, found by
    binary search (positions numbered row * (W + 2) + column, so that one
    search serves every row). The runs and these links are a graph; its
    connected components come from label propagation: each run takes the
    smallest label among its neighbours and then its label's label, until
    nothing changes. Then the runs' rows, columns and lengths are gathered by
    component."""
    mask = np.asarray(mask, bool)
    H, W = mask.shape
    rows, starts, ends = runs(mask)
    n = len(rows)
    key = rows * (W + 2)
    above = (rows - 1) * (W + 2)  # where the row above's positions begin
    lo = np.searchsorted(key + ends, above + starts)  # the first run above that ends at or after our start
    hi = np.searchsorted(key + starts, above + ends, side="right")  # past the last that starts by our end
    hi = np.maximum(hi, lo)
    run = np.repeat(np.arange(n), hi - lo)  # one link a (run, run above) pair
    other = np.arange(len(run)) - np.repeat(np.cumsum(hi - lo) - (hi - lo), hi - lo) + np.repeat(lo, hi - lo)
    label = np.arange(n)
    while True:
        low = np.minimum(label[run], label[other])
        new = label.copy()
        np.minimum.at(new, label[run], low)  # each label takes the smallest it is linked to
        np.minimum.at(new, label[other], low)
        new = new[new]  # pointer jumping: a label's label
        while not np.array_equal(new, new[new]):
            new = new[new]
        new = new[label]
        if np.array_equal(new, label):
            break
        label = new
    _, label = np.unique(label, return_inverse=True)
    k = label.max() + 1 if n else 0
    top, bottom = np.full(k, H), np.zeros(k, int)
    left, right = np.full(k, W), np.zeros(k, int)
    np.minimum.at(top, label, rows)
    np.maximum.at(bottom, label, rows)
    np.minimum.at(left, label, starts)
    np.maximum.at(right, label, ends)
    return {"height": bottom - top + 1, "width": right - left, "area": np.bincount(label, ends - starts, k),
            "top": top, "left": left, "runs": (rows, starts, ends), "run_label": label}


def _at_most_most_pixels(page):
    """(the page shrunk by the smallest whole factor that leaves it at most MOST_PIXELS, that factor)."""
    page = np.asarray(page, np.float32)
    factor = 1
    while page.size / factor**2 > MOST_PIXELS:
        factor += 1
    if factor > 1:
        page = resize(page, max(1, page.shape[0] // factor), max(1, page.shape[1] // factor))
    return page, factor


def text_height(page: np.ndarray) -> float | None:
    """The page's text height in pixels: the median height of its letter-like ink components, each
    weighted by its ink (so that letters, which hold most of a page's ink, outvote specks of grain).
    Components less tall than SMALLEST, or more than a tenth of the page tall or wide (rules, creases,
    borders), are left out. None when the page holds too little ink to say (fewer than 10 components)."""
    page, factor = _at_most_most_pixels(page)  # measured on a shrunk copy, the height scaled back
    c = components(ink_mask(page))
    keep = (c["height"] >= SMALLEST) & (c["height"] <= page.shape[0] / 10) & (c["width"] <= page.shape[1] / 10)
    heights, weights = c["height"][keep], c["area"][keep]
    if len(heights) < 10:
        return None
    order = np.argsort(heights)
    cumulative = np.cumsum(weights[order])
    return float(heights[order][np.searchsorted(cumulative, cumulative[-1] / 2)]) * factor


def light_on_dark(page: np.ndarray) -> bool:
    """Whether a page is light text on dark paper: more of it is darker than its paper around it (ink_mask)
    than of its negative. On a page of dark text the ink is a few per cent of the pixels and the negative's
    "ink" (the paper between the letters, darker than the letters around it) most of them. On 301 pages (240
    of the main generator, 60 of the second, ``skimage.data.page()``) the page's share is at most 0.26 of its
    negative's, stains, sun spots, faded ink and a dark border over half the page included. A large page is
    judged on a copy shrunk to at most MOST_PIXELS."""
    page, _ = _at_most_most_pixels(page)
    return bool(ink_mask(page).mean() > ink_mask(1 - page).mean())


def training_heights(clean_pages: list[np.ndarray]) -> dict[str, float]:
    """The range of text heights of a model's training pages (measured on their clean versions), as its
    model file records it."""
    heights = [h for h in map(text_height, clean_pages) if h is not None]
    if not heights:
        return {"low": GENERATED_TEXT_HEIGHTS[0], "high": GENERATED_TEXT_HEIGHTS[1]}
    return {"low": float(min(heights)), "high": float(max(heights))}


def training_scale(height: float | None, low: float, high: float) -> float:
    """The factor that resamples a page whose text is ``height`` pixels tall into the training range
    [low, high]: 1 inside it (or when the height is unknown); text taller than the range goes to its middle
    (the model is less sure of the largest training sizes), text shorter to its low end (the page is
    enlarged no more than it must be). Chosen by OCR on held-out pages at 2.5x and 0.6x (docs/documents.md)."""
    if height is not None and not height > 0:
        raise ValueError(f"a text height must be a positive number of pixels, got {height!r}.")
    if height is None or low <= height <= high:
        return 1.0
    return (low if height < low else (low + high) / 2) / height


def clean_at_scale(clean: Callable[[np.ndarray], np.ndarray], page: np.ndarray, factor: float) -> np.ndarray:
    """``clean(page)`` at ``factor`` times the page's size, resampled back to the page's own (H, W)."""
    if factor == 1.0:
        return clean(page)
    H, W = page.shape
    h, w = round(H * factor), round(W * factor)
    if min(h, w) < min(SMALLEST_SIDE, H, W) or h * w > max(MOST_RESAMPLED, H * W):
        raise ValueError(f"bringing this page's text to the training size would resample the {H}x{W} page to "
                         f"{h}x{w} pixels. Fix: give the page's real text height (--text-height, the median height "
                         "of its letters in pixels), or clean it as it is (rescale=False).")
    return np.clip(resize(clean(np.clip(resize(page, h, w), 0, 1)), H, W), 0, 1)
