r"""Figures (matplotlib, PNG), written atomically.

denoising_figure   rows of corrupted / denoised / clean test images (the DAE picture)
loss_curves        train and validation loss, and validation PSNR, per epoch
filters_figure     the first layer's weights as image tiles (what each hidden unit looks for)
sigma_map_figure   a per-pixel-variance model's predicted sigma, beside the digits
field_figure       a 2-D model's vector field r(x) - x over the data, beside the exact one
filters_by_noise_figure   first-layer filters of several models side by side

Each figure is drawn on its own ``matplotlib.figure.Figure`` (no pyplot
state), so the library never changes the backend of a notebook or script.
"""
import math
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .backend import Array, to_host
from .corruption import Corruption
from .data import Dataset
from .files import atomic_write, check_png_name
from .inference import prepare_images, reconstruct
from .losses import Loss
from .model import Autoencoder
from .toy import GaussianMixture


def _figure(rows, cols, figsize, **kw):
    """A Figure and its axes grid, outside pyplot."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(rows, cols, squeeze=False, **kw)


def _save(fig, path):
    """Write ``fig`` as a PNG to ``path``, atomically; a name that promises another format is refused."""
    check_png_name(path)
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=100, bbox_inches="tight")
    return path


def _show(ax, img, cmap="gray", vmin=0.0, vmax=1.0):
    ax.imshow(img, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def _strip(images, image_shape):
    """Images (N, D) side by side in one (H, N (W + 1) - 1) array, a column of NaN (drawn blank) between two."""
    h, w = image_shape
    strip = np.full((h, len(images) * (w + 1) - 1), np.nan)
    for i, img in enumerate(images):
        strip[:, i * (w + 1):i * (w + 1) + w] = img.reshape(image_shape)
    return strip


def denoising_figure(path: str | Path, corrupted: Array, denoised: Array, clean: Array, image_shape: tuple[int, int],
                     title: str = "") -> str | Path:
    """Three rows: corrupted x~, denoised Dec(E(x~)), clean x; one column per image.

    Each row is one strip image (three axes, not one per digit: ten times faster to draw)."""
    rows = [("corrupted", corrupted), ("denoised", denoised), ("clean", clean)]
    n = len(clean)
    fig, axes = _figure(3, 1, (1.1 * n, 3.6))
    for r, (label, imgs) in enumerate(rows):
        _show(axes[r, 0], _strip(np.clip(to_host(imgs), 0, 1), image_shape))
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def loss_curves(path: str | Path, history: list[dict[str, float]]) -> str | Path:
    """Train and validation loss (left) and validation PSNR (right) per epoch."""
    epochs = [h["epoch"] for h in history]
    fig, axes = _figure(1, 2, (9, 3.4))
    ax1, ax2 = axes[0]
    ax1.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    ax1.plot(epochs, [h["val_loss"] for h in history], "s-", label="validation")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss (nats per image)")
    ax1.legend()
    ax2.plot(epochs, [h["val_psnr"] for h in history], "s-", color="C1")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("validation PSNR (dB)")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    return _save(fig, path)


def filters_figure(path: str | Path, W: Array, image_shape: tuple[int, int], n: int = 100,
                   title: str = "first-layer filters") -> str | Path:
    """Columns of the first weight matrix (D, H) as images, each scaled to its own range, in one mosaic
    (one image is drawn ten times faster than a grid of a hundred axes)."""
    n = min(n, W.shape[1])
    side = 0.7 * math.ceil(math.sqrt(n))
    fig, axes = _figure(1, 1, (side, side))
    plot_filters(axes[0, 0], W, image_shape, n, title)
    return _save(fig, path)


def sigma_map_figure(path: str | Path, clean: Array, denoised: Array, sigma: Array,
                     image_shape: tuple[int, int]) -> str | Path:
    """Clean, denoised and predicted sigma per pixel, one column per image."""
    n = len(clean)
    sigma = to_host(sigma)
    fig, axes = _figure(3, n, (1.1 * n, 3.8))
    vmax = float(sigma.max())
    for c in range(n):
        _show(axes[0, c], np.clip(to_host(clean[c]), 0, 1).reshape(image_shape))
        _show(axes[1, c], np.clip(to_host(denoised[c]), 0, 1).reshape(image_shape))
        im = axes[2, c].imshow(sigma[c].reshape(image_shape), cmap="magma", vmin=0, vmax=vmax)
        axes[2, c].set_xticks([])
        axes[2, c].set_yticks([])
    for r, label in enumerate(["clean", "denoised", "sigma"]):
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center")
    fig.colorbar(im, ax=axes[2, :].tolist(), shrink=0.8)
    return _save(fig, path)


def training_figures(out: Path, model: Autoencoder, loss: Loss, corrupt: Corruption, data: Dataset,
                     history: list[dict[str, float]], seed: int, n: int = 10) -> dict[str, str | Path]:
    """The figures of a finished run, on the first n test images; returns name -> path."""
    be = model.backend
    shape = data.image_shape
    x = be.asarray(prepare_images(data.test_images[:n], model.dtype))
    x_tilde = corrupt(x, be.rng(seed + 5))
    out_ = model.forward(x_tilde)[0]
    denoised = loss.reconstruction(out_)
    files = {
        "denoising": denoising_figure(out / "denoising.png", x_tilde, denoised, x, shape,
                                      f"{corrupt.spec()} noise on test images"),
        "loss_curves": loss_curves(out / "loss_curves.png", history),
        "filters": filters_figure(out / "filters.png", model.encoder.layers[0].params["W"], shape),
    }
    if "log_var" in out_:
        files["sigma_map"] = sigma_map_figure(out / "sigma_map.png", x, denoised, loss.sigma_map(out_), shape)
    return files


def _tile(W, image_shape, n, cols):
    """The first n columns of W (D, H) as one mosaic image, each tile scaled to [-1, 1] by its own range."""
    h, w = image_shape
    rows = math.ceil(n / cols)
    mosaic = np.zeros((rows * (h + 1) + 1, cols * (w + 1) + 1))
    for i in range(n):
        tile = W[:, i].reshape(image_shape)
        tile = tile / (float(np.abs(tile).max()) or 1.0)
        r, c = divmod(i, cols)
        mosaic[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + c * (w + 1):1 + c * (w + 1) + w] = tile
    return mosaic


def plot_filters(ax: Axes, W: Array, image_shape: tuple[int, int], n: int = 36, title: str = "") -> Axes:
    """The first n first-layer filters (columns of W, (D, H)) as one mosaic in ``ax``, each scaled to its own range."""
    W = to_host(W)
    k = min(n, W.shape[1])
    _show(ax, _tile(W, image_shape, k, math.ceil(math.sqrt(k))), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_title(title, fontsize=10)
    return ax


def filters_by_noise_figure(path: str | Path, weights: dict[str, Array], image_shape: tuple[int, int], n: int = 36,
                            title: str = "first-layer filters by corruption") -> str | Path:
    """One panel of n first-layer filters per model, side by side (as in Vincent et al. 2010).

    weights : dict label -> first weight matrix (D, H), e.g. {"no noise": W0, "gaussian:0.3": W1}
    """
    fig, axes = _figure(1, len(weights), (2.6 * len(weights), 2.9))
    for ax, (label, W) in zip(axes[0], weights.items()):
        plot_filters(ax, W, image_shape, n, label)
    fig.suptitle(title)
    return _save(fig, path)


def field_grid(points: np.ndarray, n: int = 21, margin: float = 0.15) -> np.ndarray:
    """A regular n x n grid over the bounding box of 2-D points, widened by ``margin`` of its size."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    pad = margin * (hi - lo)
    xs, ys = (np.linspace(lo[i] - pad[i], hi[i] + pad[i], n) for i in range(2))
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def plot_field(ax: Axes, grid: np.ndarray, field: np.ndarray, *, mixture: GaussianMixture | None = None,
               s: float | None = None, points: np.ndarray | None = None, color: str = "C3", title: str = "") -> Axes:
    """Draw a 2-D vector field into ``ax``: arrows in data units from each grid point (where a DAE moves it),
    over the smoothed density p_s of a toy mixture (TM1), or over a scatter of data points."""
    if mixture is not None:
        xs, ys = np.unique(grid[:, 0]), np.unique(grid[:, 1])
        fine = np.stack(np.meshgrid(np.linspace(xs[0], xs[-1], 120), np.linspace(ys[0], ys[-1], 120)), -1)
        dens = np.exp(mixture.log_density(fine.reshape(-1, 2), s or 0.0)).reshape(120, 120)
        ax.contourf(fine[..., 0], fine[..., 1], dens, levels=12, cmap="Greys", alpha=0.6)
    elif points is not None:
        ax.scatter(points[:2000, 0], points[:2000, 1], s=2, c="0.6", lw=0)
    ax.quiver(grid[:, 0], grid[:, 1], field[:, 0], field[:, 1], angles="xy", scale_units="xy", scale=1,
              color=color, width=0.004)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=10)
    return ax


def field_figure(path: str | Path, model: Autoencoder, loss: Loss, corrupt: Corruption, points: Array,
                 mixture: GaussianMixture | None = None, n_grid: int = 21, title: str = "") -> str | Path:
    r"""A 2-D DAE's displacement r(x) - x on a grid over the data (an estimate of s^2 grad log p_s, (S4)).

    With ``mixture`` (a toy data set) a second panel shows the exact
    s^2 grad log p_s(x) over the smoothed density p_s, with the same arrow scale.
    """
    points = to_host(points)
    grid = field_grid(points, n_grid)
    be = model.backend
    learned = to_host(reconstruct(model, loss, be.asarray(grid, dtype=model.dtype))) - grid  # n*n,2  r(x) - x
    s = getattr(corrupt, "sigma", None)
    exact = mixture is not None and s is not None and not getattr(corrupt, "clip", False)
    fig, axes = _figure(1, 2 if exact else 1, (5.2 * (2 if exact else 1), 5))
    kw = dict(mixture=mixture, s=s) if exact else dict(points=points)
    plot_field(axes[0, 0], grid, learned, title="learned r(x) - x", **kw)
    if exact:
        plot_field(axes[0, 1], grid, s**2 * mixture.score(grid, s), color="C0",
                   title=f"exact $s^2\\nabla\\log p_s(x)$, s = {s:g}", **kw)
    fig.suptitle(title or f"{corrupt.spec()} noise: where the DAE moves each point (arrows in data units)")
    return _save(fig, path)


def chain_figure(path: str | Path, start: np.ndarray, snapshots: dict[int, np.ndarray], image_shape: tuple[int, int],
                 title: str = "") -> str | Path:
    """One row per chain: its start, then the decoder mean at each kept step (see sampling.markov_chain)."""
    steps = sorted(snapshots)
    n = len(start)
    fig, axes = _figure(n, len(steps) + 1, (0.9 * (len(steps) + 1), 0.95 * n + 0.5))
    for r in range(n):
        _show(axes[r, 0], np.clip(start[r], 0, 1).reshape(image_shape))
        for c, t in enumerate(steps, start=1):
            _show(axes[r, c], np.clip(snapshots[t][r], 0, 1).reshape(image_shape))
    axes[0, 0].set_title("start", fontsize=8)
    for c, t in enumerate(steps, start=1):
        axes[0, c].set_title(f"t={t}", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)
