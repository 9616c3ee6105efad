r"""The document figures: noisy | cleaned | truth, side by side, with each panel's RMSE; one page or several."""
from pathlib import Path

import numpy as np

from ..figures import _figure, _save


def page_figure(path: str | Path, noisy: np.ndarray, cleaned: np.ndarray, truth: np.ndarray | None = None,
                title: str = "") -> str | Path:
    """Noisy | cleaned | truth pages (H, W) side by side; with ``truth``, the others' titles give their RMSE to it."""
    panels = [("noisy", noisy), ("cleaned", cleaned)] + ([("truth", truth)] if truth is not None else [])
    fig, axes = _figure(1, len(panels), (5.4 * len(panels), 5.4 * noisy.shape[0] / noisy.shape[1] + 0.6))
    for ax, (label, img) in zip(axes[0], panels):
        ax.imshow(img, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        if truth is not None and label != "truth":
            label += f" (RMSE {np.sqrt(np.mean((img - truth) ** 2)):.4f})"
        ax.set_title(label)
        ax.axis("off")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def worst_pages_figure(path: str | Path, rows: list[tuple]) -> str | Path:
    """One row a page, (noisy, cleaned, truth, label) or (noisy, cleaned, truth, label, marks): noisy |
    cleaned | truth, each with its RMSE to the truth. ``marks``, a bool (H, W) mask of the pixels near
    marks that are not text (the generator records them), is outlined in red on the cleaned page, and
    the error on those pixels is given in its title."""
    if not rows:
        raise ValueError("no pages to draw. Fix: score at least one page.")
    h, w = rows[0][0].shape
    fig, axes = _figure(len(rows), 3, (14, len(rows) * (4.6 * h / w + 0.5)))
    for r, (noisy, cleaned, truth, label, *rest) in enumerate(rows):
        marks = rest[0] if rest and rest[0] is not None and rest[0].any() else None
        for ax, (name, img) in zip(axes[r], [("noisy", noisy), ("cleaned", cleaned), ("truth", truth)]):
            ax.imshow(img, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            rmse = f" (RMSE {np.sqrt(np.mean((img - truth) ** 2)):.4f})" if name != "truth" else ""
            if name == "cleaned" and marks is not None:
                ax.contour(marks, levels=[0.5], colors="red", linewidths=0.4)
                rmse += f", near marks (red) {np.sqrt(np.mean((img[marks] - truth[marks]) ** 2)):.4f}"
            ax.set_title(f"{label}: {name}{rmse}" if name == "noisy" else name + rmse, fontsize=9)
            ax.axis("off")
    return _save(fig, path)
