r"""The document figure: noisy | cleaned | truth, side by side, with each panel's RMSE."""
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
