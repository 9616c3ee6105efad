r"""Is the code h = E(x) a good representation? The linear-probe report.

A DAE learns a code on the side: to undo the noise, E must capture what the
digits are made of (strokes, their positions). We measure it by fitting a
linear probe (:mod:`scratchdae.probe`, (LR1)-(LR3)) on frozen features of the
labelled training digits and testing it on the test digits, for

raw       the pixels themselves
random    the encoder of a network of the same shape, freshly initialised
          (random features are a strong baseline: 1,000 random ReLU units
          already beat the raw pixels)
model     the trained encoder's code h = E(x)

and compare every pair on the same test digits with McNemar's exact test (MN1).
"""
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .backend import Array, Backend, get_backend, to_host
from .checkpoint import load_model
from .data import Dataset, load_dataset
from .inference import encode, prepare_images
from .model import Autoencoder
from .probe import LinearProbe, compare
from .validation import as_int


def neighbour_correlation(W: Array, image_shape: tuple[int, int] = (28, 28), margin: int = 4) -> float:
    """How much structure first-layer filters have: the correlation between each weight and its right-hand
    neighbour, over the central pixels, averaged over the units. About 0 for random weights; strokes and
    blobs, whose neighbouring pixels have similar weights, score higher.

    W : (D, H) first weight matrix, one filter per column
    """
    h, w = image_shape
    imgs = to_host(W).T.reshape(-1, h, w)[:, margin:h - margin, margin:w - margin]  # units x central pixels
    a, b = imgs[:, :, :-1].reshape(len(imgs), -1), imgs[:, :, 1:].reshape(len(imgs), -1)  # each pixel, its neighbour
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    return float(np.mean((a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))))


def random_twin(model: Autoencoder, seed: int = 12345) -> Autoencoder:
    """A freshly initialised network of the same shape and backend as ``model``."""
    arch = dict(model.config)
    return Autoencoder(arch.pop("n_in"), arch.pop("hidden"), seed=seed, backend=model.backend, dtype=model.dtype,
                       **arch)


def labelled_digits(
    dataset: str = "mnist-sample", data_dir: str | Path | None = None, max_train: int | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Dataset]:
    """(train x, train y, test x, test y, data): float32 rows in [0, 1], int64 labels and the :class:`Dataset`."""
    max_train = as_int(max_train)  # NumPy integers are fine
    if max_train is not None and (not isinstance(max_train, int) or isinstance(max_train, bool) or max_train < 100):
        raise ValueError(f"the probe needs at least 100 labelled training images (it holds a tenth out to choose "
                         f"its L2 strength), got max_train={max_train!r}. Fix: --max-train 1000, or leave it out.")
    data = load_dataset(dataset, data_dir, log=log or (lambda *a: None))
    if data.train_labels is None or data.test_labels is None:
        raise ValueError(f"{data.name} has no label files; the probe needs train and test labels "
                         "(train-labels-idx1-ubyte, t10k-labels-idx1-ubyte).")
    for split in ("train", "test"):
        images, labels = getattr(data, f"{split}_images"), getattr(data, f"{split}_labels")
        where = data.files.get(f"{split}-labels", data.name) if data.files else data.name
        if len(images) == 0:
            raise ValueError(f"{data.files.get(f'{split}-images', data.name) if data.files else data.name} holds no "
                             "images; the probe needs labelled train and test images. Fix: use a data set with both.")
        if labels.ndim != 1:
            raise ValueError(f"{where}: labels must be one number per image (an IDX file of 1 dimension), got shape "
                             f"{labels.shape}. Fix: use MNIST's label files.")
        if labels.dtype.kind not in "iu" or (labels.size and not 0 <= labels.min() <= labels.max() < 1000):
            raise ValueError(f"{where}: labels must be class numbers 0, 1, 2, ... (integers below 1000), got "
                             f"{labels.dtype} values from {labels.min()} to {labels.max()}. Fix: use MNIST's label "
                             "files, or number the classes from 0.")
    if len(np.unique(data.train_labels[:max_train or None])) < 2:
        raise ValueError(f"{data.files.get('train-labels', data.name) if data.files else data.name}: the training "
                         "labels hold a single class; a probe needs two or more. Fix: use more of the data "
                         "(--max-train) or another label file.")
    n = max_train or len(data.train_images)
    return (prepare_images(data.train_images[:n]), data.train_labels[:n].astype(np.int64),
            prepare_images(data.test_images), data.test_labels.astype(np.int64), data)


def probe_report(model: str | Path | Autoencoder, *, models: dict[str, Any] | None = None,
                 dataset: str = "mnist-sample", data_dir: str | Path | None = None, max_train: int | None = None,
                 seed: int = 0, backend: str | Backend | None = None, probe_kw: dict[str, Any] | None = None,
                 log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Probe accuracy of raw pixels, a random network of the same shape and the model's code.

    Parameters
    ----------
    model : path to a model.npz, or a model object, trained on images of the data set's size
    models : dict name -> model (or path), more codes to probe beside it (a plain AE, another noise)
    dataset, data_dir : labelled images (default: the bundled MNIST sample, 7,000 + 1,000 digits)
    max_train : probe on only the first N training digits

    Returns
    -------
    dict: ``accuracy`` name -> test accuracy, ``lam`` name -> the chosen L2 strength,
    ``mcnemar`` "a vs b" -> {b, c, n, p}, the data set, and seconds.
    """
    log = log or (lambda *a: None)
    t0 = time.perf_counter()
    if models is not None and not isinstance(models, dict):
        raise TypeError(f"models must be a dict of name -> model (or path), got {type(models).__name__}. Fix: "
                        "models={'plain': 'runs/plain/model.npz'}.")
    taken = sorted(set(models or {}) & {"model", "raw", "random"})
    if taken:
        raise ValueError(f"{', '.join(taken)} names a row the probe fills itself (model, raw, random). "
                         "Fix: give the other models other names.")
    named = {"model": model, **(models or {})}
    loaded, where = {}, {}
    for name, m in named.items():
        where[name] = f"{name} ({m})" if isinstance(m, (str, Path)) else name
        if isinstance(m, (str, Path)):
            m = load_model(m, backend)[0]
        if not isinstance(m, Autoencoder):
            raise TypeError(f"models[{name!r}] must be a model or the path of a model.npz, got "
                            f"{type(m).__name__} {m!r}. Fix: models={{{name!r}: 'runs/first/model.npz'}}.")
        loaded[name] = m
    first = loaded["model"]
    be = get_backend(backend) if backend is not None else first.backend
    x_tr, y_tr, x_te, y_te, data = labelled_digits(dataset, data_dir, max_train, log)
    for name, m in loaded.items():
        if m.config["n_in"] != x_tr.shape[1]:
            raise ValueError(f"{where[name]} takes {m.config['n_in']} inputs, and {data.name} has images of "
                             f"{x_tr.shape[1]} pixels. Fix: probe a model trained on {data.name}.")
    on_device = {}  # dtype -> (train, test) pixels on the device, copied once

    def code(m):
        if m.dtype not in on_device:
            on_device[m.dtype] = tuple(be.asarray(x, dtype=m.dtype) for x in (x_tr, x_te))
        return tuple(encode(m, x) for x in on_device[m.dtype])

    features = {"raw": (x_tr, x_te), "random": code(random_twin(first, seed=seed + 12345))}
    features.update({name: code(m) for name, m in loaded.items()})
    y_tr_dev, y_te_dev = be.asarray(y_tr), be.asarray(y_te)
    results = {}
    for name, (f_tr, f_te) in features.items():
        p = LinearProbe(seed=seed, **(probe_kw or {})).fit(be.asarray(f_tr), y_tr_dev)
        correct = p.correct(be.asarray(f_te), y_te_dev)
        log(f"{name:<10} {f_tr.shape[1]:>5} features  test accuracy {float(correct.mean()):.4f}  (lam {p.lam:g})")
        results[name] = (correct, p.lam)
    pairs = compare({k: v[0] for k, v in results.items()})
    return {
        "dataset": data.name, "n_train": int(len(x_tr)), "n_test": int(len(x_te)), "seed": seed,
        "features": {k: int(v[0].shape[1]) for k, v in features.items()},
        "accuracy": {k: float(v[0].mean()) for k, v in results.items()},
        "lam": {k: v[1] for k, v in results.items()},
        "mcnemar": {f"{a} vs {b}": {k: (float(v) if k == "p" else v) for k, v in r.items() if k != "p_exact"}
                    for (a, b), r in pairs.items()},
        "seconds": time.perf_counter() - t0,
    }
