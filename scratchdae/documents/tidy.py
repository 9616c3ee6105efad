r"""Do no harm: ink the model drew that is unlike text is left as paper.

On damage it never saw (tape edges, photocopier streaks, dust) the model
draws crisp ink where the noisy page holds a faint edge or a speck, and OCR
reads those as letters, rules or column breaks. Two kinds of ink are not
letters at any text size, and this step lightens them to paper after the
last stage, at the training text size (so that its lengths are counted in
text heights, h):

- **rules**: straight runs of ink, along a row or a column, longer than
  RULE text heights. No letter is that long; a word's letters are apart.
  Where a rule crosses a letter (ink right above and right below a
  horizontal rule, right left and right of a vertical one) the crossing is
  kept, so a streak through a line of text does not cut its letters.
- **lone specks**: components of ink of at most (SPECK h)² pixels with no
  other ink within NEAR text heights. A full stop, the dot of an i and the
  dots of a leader (".......") are small but have ink beside them; dust in
  the margin has none.

Ink here is darker than INK; rules are found at RULE_INK, lighter, because
the model draws the streaks it is unsure of in grey. The rules and underlines
of a real table or form are ink unlike letters too: ``tidy=False`` (the
command line's ``--tidy no``) keeps them. Measured on pages of both
generators in docs/documents.md ("Do no harm").
"""
import numbers

import numpy as np

from .scale import components, runs

RULE = 5.0  # text heights: a straight run of ink longer than this is a rule
RULE_INK = 0.9  # rules are ink darker than this
INK = 0.75  # specks, and the ink a rule may cross, are darker than this
SPECK = 0.3  # text heights: a component of at most (SPECK h)^2 pixels is a speck ...
NEAR = 1.5  # ... and lone when no other ink lies within NEAR h of its bounding box


def _paint(shape: tuple[int, int], rows: np.ndarray, starts: np.ndarray, ends: np.ndarray,
           values: np.ndarray | None = None) -> np.ndarray:
    """An (H, W) int array holding ``values`` (default 1) on the runs (row, start:end), 0 elsewhere."""
    H, W = shape
    n = ends - starts
    flat = np.repeat(rows * W + starts - np.cumsum(n) + n, n) + np.arange(n.sum())
    out = np.zeros(H * W, np.int64)
    out[flat] = np.repeat(np.ones_like(n) if values is None else values, n)
    return out.reshape(H, W)


def _row_rules(rule_ink: np.ndarray, ink: np.ndarray, length: int) -> np.ndarray:
    """The pixels of ``rule_ink``'s runs along rows of at least ``length`` pixels, less where a letter of ``ink``
    crosses them: ink right above the rule's pixels in that column and right below."""
    H, W = rule_ink.shape
    rows, starts, ends = runs(rule_ink)
    long = ends - starts >= length
    rule = _paint((H, W), rows[long], starts[long], ends[long]).astype(bool)
    # the rule's thickness at each column: runs of the rule down the columns
    cols, tops, bottoms = runs(rule.T)
    above = np.where(tops > 0, ink[np.maximum(tops - 1, 0), cols], False)
    below = np.where(bottoms < H, ink[np.minimum(bottoms, H - 1), cols], False)
    crossing = above & below
    return rule & ~_paint((W, H), cols[crossing], tops[crossing], bottoms[crossing]).T.astype(bool)


def lone_specks(ink: np.ndarray, text_height: float) -> np.ndarray:
    """(H, W) bool: the pixels of ``ink``'s components of at most (SPECK h)² pixels with no other ink within
    NEAR h of their bounding box."""
    H, W = ink.shape
    c = components(ink)
    rows, starts, ends = c["runs"]
    small = np.nonzero(c["area"] <= max(2.0, (SPECK * text_height) ** 2))[0]
    r = max(2, int(round(NEAR * text_height)))
    top, left = np.maximum(c["top"][small] - r, 0), np.maximum(c["left"][small] - r, 0)
    bottom = np.minimum(c["top"][small] + c["height"][small] + r, H)
    right = np.minimum(c["left"][small] + c["width"][small] + r, W)
    total = np.zeros((H + 1, W + 1), np.int64)  # the ink in any box, from sums over the rectangles above-left
    total[1:, 1:] = ink.cumsum(0).cumsum(1)
    inside = total[bottom, right] - total[top, right] - total[bottom, left] + total[top, left]
    lone = np.zeros(len(c["area"]) + 1, bool)
    lone[small[inside == c["area"][small]] + 1] = True  # nothing in the box but the speck itself
    return lone[_paint((H, W), rows, starts, ends, c["run_label"] + 1)]


def unlike_text(cleaned: np.ndarray, text_height: float) -> np.ndarray:
    """(H, W) bool: the pixels of a cleaned page (dark text on light paper) that are rules or lone specks."""
    cleaned = np.asarray(cleaned)
    if cleaned.ndim != 2:
        raise ValueError(f"a cleaned page must be (H, W), got shape {cleaned.shape}.")
    if not isinstance(text_height, numbers.Real) or isinstance(text_height, bool) or not (
            np.isfinite(text_height) and text_height > 0):
        raise ValueError(f"text_height must be a positive number of pixels, got {text_height!r}.")
    ink, rule_ink = cleaned < INK, cleaned < RULE_INK
    length = max(2, int(round(RULE * text_height)))
    rules = _row_rules(rule_ink, ink, length) | _row_rules(rule_ink.T, ink.T, length).T
    return rules | lone_specks(ink & ~rules, text_height)


def tidy(cleaned: np.ndarray, text_height: float) -> np.ndarray:
    """The cleaned page with its rules and lone specks (:func:`unlike_text`) made paper (1)."""
    out = np.array(cleaned, copy=True)
    out[unlike_text(out, text_height)] = 1
    return out
