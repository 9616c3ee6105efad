r"""Using a trained model: evaluate it on corrupted images, denoise PNG files.

``evaluate`` corrupts clean images with a noise spec and a seed, denoises them
and reports MSE, PSNR (P1) and NLL for the noisy input and for the
reconstruction. ``denoise`` reads PNG images, writes the model's
reconstructions as PNG images of the same names.
"""
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .backend import Backend, to_host
from .checkpoint import load_model
from .corruption import get_corruption
from .data import load_dataset, read_idx
from .files import check_folder, check_outputs, read_gray, write_pngs
from .losses import Loss
from .metrics import psnr
from .inference import evaluate_arrays, prepare_images, reconstruct
from .model import Autoencoder
from .tasks import application
from .validation import check_seed

# the noisy input as a prediction has an NLL only where the loss needs nothing but a mean
NOISY_NLL_LOSSES = ("gaussian", "gaussian-learned", "mse")


def _model(model, backend):
    """(model, loss, header) from a model file, or as load_model returned them."""
    if isinstance(model, (str, Path)):
        return load_model(model, backend)
    if isinstance(model, tuple) and len(model) == 3 and isinstance(model[2], dict):
        return model
    raise TypeError(f"model must be the path of a model.npz or the (model, loss, header) that load_model returns, "
                    f"got {type(model).__name__}. Fix: evaluate('runs/NAME/model.npz', ...).")


def require_images(header: dict[str, Any], command: str, source: str = "the model") -> None:
    """Image commands need an image model: one whose header has the pixel normalisation."""
    if header.get("task", "images") == "images" and "normalisation" in header:
        return
    if header.get("task", "images") == "images":
        raise ValueError(f"{source} has no pixel normalisation in its header (a model saved with save_model outside "
                         f"train()), so {command} cannot turn images into its inputs. Fix: save it with "
                         "save_model(path, model, loss, corruption, task='images', "
                         "normalisation={'scale': 255.0, 'image_shape': [28, 28]}).")
    where = {"points": "scratchdae score (toy data) or score_field", "documents": "scratchdae documents evaluate"}
    raise ValueError(f"{source} was trained on {header.get('dataset')!r} (task {header.get('task')!r}), not on images, "
                     f"and {command} works on models trained on images. Fix: use "
                     f"{where.get(header.get('task'), 'a model from scratchdae train --dataset mnist-sample')}.")


def _check_shape(images, header, source):
    expected = tuple(header["normalisation"]["image_shape"])
    if images.ndim != 3 or tuple(images.shape[1:]) != expected:
        raise ValueError(f"{source}: the model takes images of {expected[0]}x{expected[1]} pixels, got an array of "
                         f"shape {tuple(images.shape)}. Fix: use images of the size the model was trained on.")
    if images.dtype != np.uint8:
        raise TypeError(f"{source}: expected uint8 pixel values 0-255, got {images.dtype}. Fix: use IDX files of "
                        "uint8 images, as MNIST's.")
    if len(images) == 0:
        raise ValueError(f"{source} holds no images (its first dimension is 0). Fix: use a file with images in it.")


def evaluate(model: str | Path | tuple[Autoencoder, Loss, dict[str, Any]], *,
             images: str | Path | np.ndarray | None = None, dataset: str | None = None,
             data_dir: str | Path | None = None, noise: str | None = None, seed: int = 0,
             backend: str | Backend | None = None, batch_size: int = 1000,
             log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Corrupt, denoise and score; the Python face of ``scratchdae evaluate``.

    Parameters
    ----------
    model : path to model.npz, or (model, loss, header) from load_model
    images : path to an IDX file of images, or a uint8 array (N, H, W)
    dataset, data_dir : a data set (name and/or folder); its test split is used
    noise : noise spec; default: the noise the model was trained with
    seed : seed of the corruption
    """
    source = str(model) if isinstance(model, (str, Path)) else "the model"
    model, loss, header = _model(model, backend)
    require_images(header, "evaluate", source)
    seed = check_seed(seed)
    be = model.backend
    if images is not None:
        source = str(images) if isinstance(images, (str, Path)) else "images"
        images = read_idx(images) if isinstance(images, (str, Path)) else np.asarray(images)
    elif dataset is not None or data_dir is not None:
        data = load_dataset(dataset, data_dir, log=log or (lambda *a: None))
        images, source = data.test_images, f"{data.name} test split"
    else:
        raise ValueError("give the images to evaluate on. Fix: images=IDX_FILE, dataset=NAME or data_dir=FOLDER "
                         "(--images, --dataset or --data-dir).")
    _check_shape(images, header, source)
    corrupt = get_corruption(noise or header["corruption"])
    x = be.asarray(prepare_images(images, model.dtype))
    x_tilde = corrupt(x, be.rng(seed))
    d_noisy = x_tilde - x
    mse_noisy = float((d_noisy * d_noisy).mean())
    scores = evaluate_arrays(model, loss, x, x_tilde, batch_size)
    nll_noisy = None
    if loss.name in NOISY_NLL_LOSSES:
        nll_noisy = sum(float(loss.forward({"mean": x_tilde[i:i + batch_size]}, x[i:i + batch_size])[0]) *
                        len(x[i:i + batch_size]) for i in range(0, len(x), batch_size)) / len(x)
    return {
        "images": source, "n_images": int(len(x)), "noise": corrupt.spec(), "seed": seed, "loss": loss.name,
        "loss_config": loss.config(), "nll_constant": loss.constant(x.shape[1]),
        "mse_noisy": mse_noisy, "psnr_noisy": psnr(mse_noisy), "nll_noisy": nll_noisy,
        "mse_denoised": scores["mse"], "psnr_denoised": scores["psnr"], "nll_denoised": scores["loss"],
    }


def read_png(path: str | Path, shape: tuple[int, int]) -> np.ndarray:
    """A PNG as a uint8 (H, W) grayscale array: colour refused (as for pages), 16-bit scaled (not clamped)."""
    gray = np.round(read_gray(path, colour="refuse", what="input image") * 255).astype(np.uint8)
    if gray.shape != tuple(shape):
        raise ValueError(f"{path} is {gray.shape[1]}x{gray.shape[0]} pixels; the model takes {shape[1]}x{shape[0]}. "
                         f"Fix: resize the image to {shape[1]}x{shape[0]} first.")
    return gray


def denoise(model: str | Path | tuple[Autoencoder, Loss, dict[str, Any]], inputs: str | Path | Iterable[str | Path],
            out: str | Path, *, backend: str | Backend | None = None, overwrite: bool = False,
            **cleaning: Any) -> list[Path]:
    """Denoise PNG images; the Python face of ``scratchdae denoise``.

    Every input is read and checked before anything is written, so a bad file
    never leaves half the outputs behind. Outputs keep the input file names
    (ending in .png); a file of that name already in ``out`` is replaced only
    with ``overwrite``, and an input never. An application's model takes its
    own settings of cleaning (``cleaning``, e.g. ``stride=3`` for documents).
    """
    source = str(model) if isinstance(model, (str, Path)) else "the model"
    model_path = [model] if isinstance(model, (str, Path)) else []
    model, loss, header = _model(model, backend)
    if hasattr(inputs, "__iter__") and not isinstance(inputs, (str, Path)):
        inputs = list(inputs)  # a generator is read once
    if not isinstance(inputs, (str, Path)) and not (isinstance(inputs, list) and
                                                     all(isinstance(p, (str, Path)) for p in inputs)):
        raise TypeError(f"inputs must be an image path or a list of them, got {inputs!r:.80}. Fix: "
                        "denoise(model, ['a.png', 'b.png'], 'out/').")
    inputs = [Path(inputs)] if isinstance(inputs, (str, Path)) else [Path(p) for p in inputs]
    if not inputs:
        raise ValueError("no input images given. Fix: scratchdae denoise --model FILE a.png b.png --out DIR.")
    names = [p.with_suffix(".png").name for p in inputs]  # the output names
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"several inputs share the file name {dupes}; outputs keep the names, so they would "
                         "overwrite each other. Fix: rename them or denoise them in separate runs.")
    if not str(out).strip():
        raise ValueError("out is empty. Fix: --out DIR, a folder for the denoised images.")
    out = check_folder(out)
    check_outputs([out / name for name in names], [*inputs, *model_path], overwrite)
    app = application(header.get("task"))
    cleaning = {k: v for k, v in cleaning.items() if v is not None}
    unknown = sorted(set(cleaning) - set(app.cleaning if app else ()))
    if unknown:
        raise ValueError(f"{', '.join('--' + k.replace('_', '-') for k in unknown)} would be ignored: "
                         f"{source} is a model of {header.get('task', 'images')}, cleaned without such a setting. "
                         "Fix: drop it.")
    if app is not None and app.denoise is not None:  # an application's model: documents clean pages of any size
        return app.denoise(model, loss, header, model_path, backend, inputs, out, cleaning, overwrite=overwrite)
    require_images(header, "denoise", source)
    shape = tuple(header["normalisation"]["image_shape"])
    images = np.stack([read_png(p, shape) for p in inputs])  # all read and checked first
    x = model.backend.asarray(prepare_images(images, model.dtype))
    clean = np.clip(to_host(reconstruct(model, loss, x)), 0, 1)
    # PNG bytes under a .png name, whatever the input was; all outputs or none
    return write_pngs([(out / p.with_suffix(".png").name, np.round(c.reshape(shape) * 255).astype(np.uint8))
                       for p, c in zip(inputs, clean)], overwrite)

