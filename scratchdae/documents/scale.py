r"""A page's text size, and cleaning at the size the model was trained on.

The document model reads 9x9 windows with a coarse grid around them: it has
learned what strokes look like at the text sizes of its training pages, and
on text 2.5 times larger (a 300-dpi scan) it sees the inside of a stroke and
takes it for a stain. So a page is cleaned at the training scale: its text
height is estimated, the page is resampled so that its text is as tall as
the training pages' text, cleaned, and resampled back.

The text height is the median height of the ink's connected components
(letters, mostly; a stain or a rule is one component among hundreds, and a
speck is left out by its size). Ink is where the page is darker than 0.7 of
its paper (a wide max filter: stains and shadows divide out, as in the
model's own features). The model file records the heights of its training
pages (``text_height`` in its header); a page inside that range is cleaned
as it is.
"""
from collections.abc import Callable

import numpy as np

from .filters import box_filter, max_filter, resize

INK = 0.7  # a pixel is ink where it is darker than this fraction of its paper
PAPER_WINDOW = 41  # pixels: the max filter that finds the paper, wider than any stroke we expect
SMALLEST = 3  # pixels: components less tall than this are specks, not letters
MOST_PIXELS = 4_000_000  # a larger page is measured on a shrunken copy (the height scaled back)
MARGIN = 1.2  # a page is resampled only when its text is this much shorter or taller than the training range's ends
# The text heights of the main generator's clean pages (96 training pages, seed 0: 6 to 15 pixels): the range of a
# model file that records none.
GENERATED_TEXT_HEIGHTS = (6.0, 15.0)


def ink_mask(page: np.ndarray) -> np.ndarray:
    """(H, W) bool: the pixels darker than INK times the paper around them."""
    page = np.asarray(page, np.float32)
    k = min(PAPER_WINDOW, 2 * (min(page.shape) // 2) + 1)
    paper = box_filter(max_filter(page, k), k)
    return page < INK * np.maximum(paper, 0.05)


def components(mask: np.ndarray) -> dict[str, np.ndarray]:
    """The 8-connected components of ``mask``: each one's ``height`` and ``width`` (of its bounding box) and
    ``area`` (pixels).

    Each row's runs of True are found with ``np.diff``; a run joins the runs of
    the row above that it touches (columns overlapping or diagonal), with
    union-find over runs; then the runs' rows, columns and lengths are gathered
    by component."""
    mask = np.asarray(mask, bool)
    edges = np.diff(mask.astype(np.int8), axis=1, prepend=0, append=0)
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)  # exclusive; the same order as the starts (row by row, left to right)
    n = len(rows)
    parent = list(range(n))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first = np.searchsorted(rows, np.arange(mask.shape[0] + 1))  # runs of row r: first[r] to first[r + 1]
    for r in range(1, mask.shape[0]):
        a, a_end, b, b_end = first[r - 1], first[r], first[r], first[r + 1]
        while a < a_end and b < b_end:  # two sorted lists of runs: sweep both
            if starts[a] <= ends[b] and starts[b] <= ends[a]:  # touching, diagonals included
                ra, rb = root(a), root(b)
                if ra != rb:
                    parent[rb] = ra
            if ends[a] < ends[b]:
                a += 1
            else:
                b += 1
    _, label = np.unique(np.array([root(i) for i in range(n)], int), return_inverse=True)
    k = label.max() + 1 if n else 0
    top, bottom = np.full(k, mask.shape[0]), np.zeros(k, int)
    left, right = np.full(k, mask.shape[1]), np.zeros(k, int)
    np.minimum.at(top, label, rows)
    np.maximum.at(bottom, label, rows)
    np.minimum.at(left, label, starts)
    np.maximum.at(right, label, ends)
    return {"height": bottom - top + 1, "width": right - left, "area": np.bincount(label, ends - starts, k)}


def text_height(page: np.ndarray) -> float | None:
    """The page's text height in pixels: the median height of its letter-like ink components, each
    weighted by its ink (so that letters, which hold most of a page's ink, outvote specks of grain).
    Components less tall than SMALLEST, or more than a tenth of the page tall or wide (rules, creases,
    borders), are left out. None when the page holds too little ink to say (fewer than 10 components)."""
    page = np.asarray(page, np.float32)
    factor = 1
    while page.size / factor**2 > MOST_PIXELS:
        factor += 1
    if factor > 1:  # measured on a copy shrunk by a whole factor, scaled back
        page = resize(page, page.shape[0] // factor, page.shape[1] // factor)
    c = components(ink_mask(page))
    keep = (c["height"] >= SMALLEST) & (c["height"] <= page.shape[0] / 10) & (c["width"] <= page.shape[1] / 10)
    heights, weights = c["height"][keep], c["area"][keep]
    if len(heights) < 10:
        return None
    order = np.argsort(heights)
    cumulative = np.cumsum(weights[order])
    return float(heights[order][np.searchsorted(cumulative, cumulative[-1] / 2)]) * factor


def light_on_dark(page: np.ndarray) -> bool:
    """Whether a page is light text on dark paper: its median (the paper, which most pixels are) lies closer
    to its darkest pixels than to its brightest (1st and 99th percentiles), so that the text is the bright
    minority. On 150 pages of the main generator and 60 of the second the median lies at least 0.07 closer
    to the bright end; on the same pages inverted, at least 0.07 closer to the dark end."""
    lo, median, hi = np.percentile(np.asarray(page, np.float32), [1, 50, 99])
    return bool(median - lo < hi - median)


def training_heights(clean_pages: list[np.ndarray]) -> dict[str, float]:
    """The range of text heights of a model's training pages (measured on their clean versions), as its
    model file records it."""
    heights = [h for h in map(text_height, clean_pages) if h is not None]
    if not heights:
        return {"low": GENERATED_TEXT_HEIGHTS[0], "high": GENERATED_TEXT_HEIGHTS[1]}
    return {"low": float(min(heights)), "high": float(max(heights))}


def training_scale(height: float | None, low: float, high: float) -> float:
    """The factor that resamples a page whose text is ``height`` pixels tall into the training range
    [low, high]: 1 within MARGIN of it (or when the height is unknown), else the nearest end over the height."""
    if height is None or low / MARGIN <= height <= high * MARGIN:
        return 1.0
    return float(np.clip(height, low, high) / height)


def clean_at_scale(clean: Callable[[np.ndarray], np.ndarray], page: np.ndarray, factor: float) -> np.ndarray:
    """``clean(page)`` at ``factor`` times the page's size, resampled back to the page's own (H, W)."""
    if factor == 1.0:
        return clean(page)
    H, W = page.shape
    small = np.clip(resize(page, max(1, round(H * factor)), max(1, round(W * factor))), 0, 1)
    return np.clip(resize(clean(small), H, W), 0, 1)
