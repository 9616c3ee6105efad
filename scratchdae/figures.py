r"""Figures (matplotlib, PNG), written atomically.

denoising_figure   rows of corrupted / denoised / clean test images (the DAE picture)
loss_curves        train and validation loss, and validation PSNR, per epoch
filters_figure     the first layer's weights as image tiles (what each hidden unit looks for)
sigma_map_figure   a per-pixel-variance model's predicted sigma, beside the digits
"""
import math

import matplotlib

matplotlib.use("Agg")  # files only; no window, works headless and in CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .backend import to_host  # noqa: E402
from .files import atomic_write  # noqa: E402


def _save(fig, path):
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def _show(ax, img, cmap="gray", vmin=0.0, vmax=1.0):
    ax.imshow(img, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def denoising_figure(path, corrupted, denoised, clean, image_shape, title=""):
    """Three rows: corrupted x~, denoised D(E(x~)), clean x; one column per image."""
    rows = [("corrupted", corrupted), ("denoised", denoised), ("clean", clean)]
    n = len(clean)
    fig, axes = plt.subplots(3, n, figsize=(1.1 * n, 3.6), squeeze=False)
    for r, (label, imgs) in enumerate(rows):
        imgs = np.clip(to_host(imgs), 0, 1)
        for c in range(n):
            _show(axes[r, c], imgs[c].reshape(image_shape))
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def loss_curves(path, history):
    """Train and validation loss (left) and validation PSNR (right) per epoch."""
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
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


def filters_figure(path, W, image_shape, n=100, title="first-layer filters"):
    """Columns of the first weight matrix (D, H) as images, each scaled to its own range."""
    W = to_host(W)
    n = min(n, W.shape[1])
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.7, rows * 0.7), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < n:
            w = W[:, i]
            lim = float(np.abs(w).max()) or 1.0
            _show(ax, w.reshape(image_shape), cmap="RdBu_r", vmin=-lim, vmax=lim)
        else:
            ax.axis("off")
    fig.suptitle(title)
    return _save(fig, path)


def sigma_map_figure(path, clean, denoised, sigma, image_shape):
    """Clean, denoised and predicted sigma per pixel, one column per image."""
    n = len(clean)
    sigma = to_host(sigma)
    fig, axes = plt.subplots(3, n, figsize=(1.1 * n, 3.8), squeeze=False)
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


def training_figures(out, model, loss, corrupt, data, history, seed, n=10):
    """The figures of a finished run, on the first n test images; returns name -> path."""
    from .train import prepare_images  # here to avoid an import cycle

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
