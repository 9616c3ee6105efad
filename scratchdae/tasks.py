r"""What the training loop trains on: a data set turned into rows.

Two kinds of task, each with its own defaults (``TASK_DEFAULTS``):

images     28x28 digits (or any IDX images): rows of pixels in [0, 1]
points     low-dimensional points: the 2-D toy data sets of :mod:`scratchdae.toy`,
           or any float32 array (N, D) with D <= POINTS_MAX_DIM given to ``train(inputs=X)``

and those of the applications built on the core, which register themselves
(:func:`register_application`): ``documents``, windows of dirty pages, is
one (:mod:`scratchdae.documents`). The core never imports an application; it
finds one through the ``scratchdae.applications`` entry points when a model
file or a data set names its task.

An array with more columns than POINTS_MAX_DIM trains with the image
defaults. Each task gives a :class:`TaskData`: inputs and targets for
training and validation (host float32 rows), the model-header entries that
say where the data came from, and the figures drawn at the end of a run.
The ``cfg`` the functions below take is the run's
:class:`scratchdae.run.config.TrainConfig` (hinted ``Any``: the config
imports this module, so this module cannot import it back).
"""
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import numpy as np

from .backend import Array
from .data import check_idx_length, idx_header, iter_idx, load_dataset
from .inference import prepare_images
from .validation import check_fits_memory

POINTS_MAX_DIM = 16  # arrays with at most this many columns get the low-dimensional defaults

TASK_DEFAULTS = {
    "images": dict(noise="gaussian:0.5", hidden=(1000,), batch_size=64, epochs=30, lr=1e-3, lr_schedule="constant",
                   patience=5),
    # points: a small deep net (with a linear output, as run/config.output_activation decides: the data are not
    # pixels), many short epochs, a cosine schedule run to the end; chosen on the toy data sets at noise 0.1-0.5
    # (docs/what_a_dae_learns.md)
    "points": dict(noise="gaussian:0.3", hidden=(128, 128), activation="relu", batch_size=256, epochs=300, lr=2e-3, lr_schedule="cosine", patience=0,
                   n_points=20_000),
}
# The figures a run of each task draws at its end (the files a new run must not find in its folder)
TASK_FIGURES = {"images": ("denoising.png", "loss_curves.png", "filters.png", "sigma_map.png"),
                "points": ("loss_curves.png", "field.png")}


@dataclass(frozen=True)
class Application:
    """What an application built on the core tells it: the task its models name in their headers, the
    TrainConfig defaults for that task, the command that trains it, its own settings (which runs saved among
    the core's in earlier versions), those it no longer has, how its models denoise files
    (``denoise(model, loss, header, [model_path] or [], backend, inputs, out, cleaning, overwrite=False) ->
    [paths]``, as :func:`scratchdae.evaluate.denoise` calls it), and the settings of that cleaning
    (``cleaning``: name -> argparse keywords, options of ``scratchdae denoise``), the names of the figures
    its runs draw (``figures``), and the check :func:`scratchdae.checkpoint.save_model` makes of a header of
    its task before writing it (``check_model(header, path)``, raising ValueError for a model its own tools
    could not read)."""

    task: str
    defaults: dict
    command: str
    settings: tuple = ()
    removed: tuple = ()
    denoise: Callable | None = None
    cleaning: dict = field(default_factory=dict)
    figures: tuple = ()
    check_model: Callable | None = None


APPLICATIONS: dict[str, Application] = {}
_SEARCHED = []  # the entry points are loaded once


def register_application(app: Application) -> None:
    """Make an application's task known to the core (its module calls this when imported)."""
    APPLICATIONS[app.task] = app
    TASK_DEFAULTS[app.task] = app.defaults
    TASK_FIGURES[app.task] = app.figures


def applications() -> list[Application]:
    """Every application: those registered, and those the entry points name."""
    _load_entry_points()
    return list(APPLICATIONS.values())


def _load_entry_points() -> None:
    """Import the applications the ``scratchdae.applications`` entry points name (importing one registers it),
    once."""
    if not _SEARCHED:
        _SEARCHED.append(True)
        for point in entry_points(group="scratchdae.applications"):
            point.load()


def application(task: Any) -> Application | None:
    """The application whose models are of ``task``, or None (images, points, or no such application). One not
    registered yet is found through the ``scratchdae.applications`` entry points (importing it registers it)."""
    if not isinstance(task, str) or task in ("images", "points"):
        return None
    if task not in APPLICATIONS:
        _load_entry_points()
    return APPLICATIONS.get(task)


@dataclass
class TaskData:
    """What a data set gives the training loop: inputs and targets (host float32 rows)
    for training and validation, the model-header entries that describe the
    task and its data, and the figures drawn at the end. For digits and points
    inputs and targets are the same rows (the corruption makes the inputs noisy
    on the fly); for documents the inputs are noisy windows and the targets
    clean patches."""

    name: str
    source: str
    inputs: np.ndarray
    targets: np.ndarray
    val_inputs: np.ndarray
    val_targets: np.ndarray
    header: dict
    figures: object  # figures(out, model, loss, corrupt, history, seed) -> {name: path}
    arrays: dict = field(default_factory=dict)  # what model.npz holds besides the model: a first stage's weights

    def fingerprint(self) -> dict[str, Any]:
        """Count and SHA-256 of the training and validation rows: a resumed run must see the same data."""
        h = hashlib.sha256()
        arrays = [self.inputs, self.val_inputs]
        if self.targets is not self.inputs:
            arrays += [self.targets, self.val_targets]
        for a in arrays:
            a = np.ascontiguousarray(a)
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(a.data)
        return {"n_train": int(len(self.inputs)), "n_val": int(len(self.val_inputs)), "sha256": h.hexdigest()}


def validation_count(n: int, val_fraction: float) -> int:
    """How many of n examples are held out for validation: the fraction, rounded, at least 1."""
    return max(1, int(round(n * val_fraction)))


def split_train_val(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A fixed, seeded split of n training indices into (train, validation)."""
    order = np.random.default_rng([seed, 1]).permutation(n)
    n_val = validation_count(n, val_fraction)
    if n - n_val < 1:
        raise ValueError(f"holding out {val_fraction:g} of {n} examples for validation leaves none to train on. "
                         "Fix: more examples, or a smaller val_fraction (--val-fraction).")
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def task_of(dataset: str | None, inputs: Array | None = None) -> str:
    """The task a data set trains as: an application's (documents), points (toy data, few columns) or images."""
    if application(dataset) is not None:
        return dataset
    if str(dataset or "").startswith("toy:"):
        return "points"
    if inputs is not None and np.shape(inputs)[-1] <= POINTS_MAX_DIM:
        return "points"
    return "images"


FIGURE_IMAGES = 10  # test images drawn in a digits run's figures


def image_data(cfg: Any, log: Callable[[str], None]) -> TaskData:
    """The digits (or any IDX images), split into training and validation rows.

    The training images are read from their file a block at a time, each block prepared into its rows
    and let go: the uint8 images are never held whole beside their float32 rows (the peak memory of a
    run). Of the test images only the few the figures draw are kept.
    """
    data = load_dataset(cfg.dataset, cfg.data_dir, log=log, train_images=False)
    data.test_images, data.train_labels, data.test_labels = data.test_images[:FIGURE_IMAGES].copy(), None, None
    path = data.files["train-images"]
    n = check_idx_length(path)[0]  # a truncated file is refused before its rows are made
    n = min(n, cfg.max_train) if cfg.max_train else n
    tr_idx, va_idx = split_train_val(n, cfg.val_fraction, cfg.seed)
    X, X_val = prepare_rows(path, [tr_idx, va_idx])

    def figures(out, model, loss, corrupt, history, seed):
        from .figures import training_figures
        return training_figures(out, model, loss, corrupt, data, history, seed, n=FIGURE_IMAGES)

    header = {"task": "images", "normalisation": {"scale": 255.0, "image_shape": list(data.image_shape)}}
    return TaskData(data.name, data.source, X, X, X_val, X_val, header, figures)


def prepare_rows(path: str | Path, rows: list[np.ndarray], block: int = 1024) -> list[np.ndarray]:
    """For each sorted array of image indices in ``rows``, prepare_images(images[indices]), reading the IDX
    file at ``path`` a block of images at a time (every block is read, so the whole file is checked)."""
    dims = idx_header(path)[0]
    rows = [np.asarray(indices) for indices in rows]
    for indices in rows:
        if (indices.ndim != 1 or (indices.dtype.kind not in "iu" and indices.size)
                or (indices.size and (indices[0] < 0 or indices[-1] >= dims[0] or (np.diff(indices) < 0).any()))):
            raise ValueError(f"each array of rows must hold image indices from 0 to {dims[0] - 1}, sorted; got "
                             f"{indices.dtype} of shape {indices.shape}. Fix: np.sort(indices).")
    D = math.prod(dims[1:])
    check_fits_memory(sum(len(r) for r in rows) * D * 4, f"{sum(len(r) for r in rows):,} float32 rows of {D} pixels",
                      "train on fewer images, e.g. --max-train 10000.")
    out = [np.empty((len(r), D), dtype=np.float32) for r in rows]
    for start, images in iter_idx(path, block):
        for indices, X in zip(rows, out):
            a, b = np.searchsorted(indices, [start, start + len(images)])  # the rows in this block
            if b > a:
                X[a:b] = prepare_images(images[indices[a:b] - start])
    return out


def check_inputs(X: Array, name: str = "inputs") -> np.ndarray:
    """A user's array for ``train(inputs=X)``: float32 rows (N, D), finite, at least 2 of them."""
    if not isinstance(X, np.ndarray):
        if type(X).__module__.split(".")[0] == "cupy":  # the loop copies data to the device itself
            X = X.get()
        else:
            raise TypeError(f"{name} must be a NumPy array of shape (N, D), got {type(X).__name__}. "
                            f"Fix: {name}=numpy.asarray(data, dtype='float32').")
    if X.ndim != 2:
        raise ValueError(f"{name} must have shape (N, D): one row per example, got shape {X.shape}. "
                         f"Fix: {name}.reshape(len({name}), -1).")
    if X.dtype != np.float32:
        raise TypeError(f"{name} must be float32 (training runs in float32, with no silent casts), got {X.dtype}. "
                        f"Fix: {name}.astype('float32').")
    if len(X) < 2 or X.shape[1] < 1:
        raise ValueError(f"{name} needs at least 2 rows and 1 column, got shape {X.shape}.")
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or inf. Fix: drop or fill those rows first.")
    return X


def array_data(cfg: Any, inputs: np.ndarray, val_inputs: Array | None = None) -> TaskData:
    """A user's float32 array (N, D), already checked by :func:`check_inputs`; a seeded share of it for
    validation unless val_inputs is given."""
    X = inputs
    if val_inputs is None:
        tr_idx, va_idx = split_train_val(len(X), cfg.val_fraction, cfg.seed)
        X, X_val = X[tr_idx], X[va_idx]
        source = f"an array of {len(inputs):,} rows of {X.shape[1]} values ({len(X_val):,} held out for validation)"
    else:
        X_val = check_inputs(val_inputs, "val_inputs")
        if X_val.shape[1] != X.shape[1]:
            raise ValueError(f"val_inputs has {X_val.shape[1]} columns, inputs has {X.shape[1]}; they must match.")
        source = f"an array of {len(X):,} rows of {X.shape[1]} values, and {len(X_val):,} validation rows"

    def figures(out, model, loss, corrupt, history, seed):
        from .figures import field_figure, loss_curves
        files = {"loss_curves": loss_curves(out / "loss_curves.png", history)}
        if X.shape[1] == 2:
            files["field"] = field_figure(out / "field.png", model, loss, corrupt, X_val)
        return files

    header = {"task": cfg.task}
    return TaskData("array", source, X, X, X_val, X_val, header, figures)


def toy_data(cfg: Any) -> TaskData:
    """Points drawn from a toy mixture (``--dataset toy:NAME``): n_points for training, a share more for validation."""
    from .toy import get_toy

    name = cfg.dataset.partition(":")[2]
    mixture = get_toy(name)
    n_val = validation_count(cfg.n_points, cfg.val_fraction)
    X = mixture.sample(cfg.n_points, seed=np.random.default_rng([cfg.seed, 6]), dtype="float32")
    X_val = mixture.sample(n_val, seed=np.random.default_rng([cfg.seed, 7]), dtype="float32")
    source = f"{cfg.n_points:,} points drawn from {mixture!r} ({n_val:,} more for validation)"

    def figures(out, model, loss, corrupt, history, seed):
        from .figures import field_figure, loss_curves
        return {"loss_curves": loss_curves(out / "loss_curves.png", history),
                "field": field_figure(out / "field.png", model, loss, corrupt, X_val, mixture=mixture)}

    header = {"task": "points", "toy": name}
    return TaskData(cfg.dataset, source, X, X, X_val, X_val, header, figures)


def load_task_data(cfg: Any, inputs: np.ndarray | None, val_inputs: Array | None, data: Callable | None,
                   log: Callable[[str], None]) -> TaskData:
    """The rows to train on: a user's array, an application's data, toy points, or images."""
    if inputs is not None:
        return array_data(cfg, inputs, val_inputs)
    if val_inputs is not None:
        raise ValueError("val_inputs was given without inputs. Fix: train(inputs=X, val_inputs=X_val).")
    if cfg.dataset == "array":
        raise ValueError("this run trained on an array given to train(inputs=...), which is not saved with it. "
                         "Fix: pass the same array again: train(out=..., resume=True, inputs=X).")
    app = application(cfg.task)
    if app is not None and data is None:
        raise ValueError(f"{cfg.task} runs are trained by their own command, which makes their data. Fix: "
                         f"{app.command}.")
    if data is not None:
        return data(cfg, log)
    if str(cfg.dataset).startswith("toy:"):
        return toy_data(cfg)
    return image_data(cfg, log)
