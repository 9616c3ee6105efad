r"""Checkpoints: one .npz of plain arrays plus a JSON header.

Two kinds, same format:

* ``model.npz``: a trained model to use (evaluate, denoise): its parameters,
  the loss's parameters, and a header with the architecture, loss, corruption,
  data normalisation and a summary of the training history.
* ``checkpoint.npz``: everything needed to resume training exactly: the
  model, the optimizer's moments, the random generators' states, the epoch and
  step, the early-stopping record and the whole history (the best weights so
  far are model.npz itself).

The header is JSON stored as a uint8 array, so files load with
``allow_pickle=False`` (no code runs on load). Arrays are saved from the host:
a model trained on CuPy loads on NumPy and the other way round. Files are
written atomically.
"""
import json
import zipfile
from pathlib import Path

import numpy as np

from . import __version__
from .backend import get_backend, to_host
from .files import atomic_write
from .losses import get_loss
from .model import Autoencoder

FORMAT = "scratchdae"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, of another version or another shape."""


def save_npz(path, arrays, header):
    """Write host copies of ``arrays`` and the JSON ``header`` to ``path`` atomically."""
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "scratchdae_version": __version__, **header}
    payload = {k: to_host(v) for k, v in arrays.items()}
    payload["__header__"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    with atomic_write(path) as f:
        np.savez(f, **payload)
    return Path(path)


def load_npz(path, kind=None):
    """Read ``(arrays, header)``, checking the format, version and kind."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist. Fix: train a model first "
                              "(scratchdae train --out DIR writes DIR/model.npz).")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        raise CheckpointError(f"{path} is not a readable .npz checkpoint ({err}).") from None
    if "__header__" not in arrays:
        raise CheckpointError(f"{path} is an .npz file but not a scratchdae checkpoint (no header).")
    try:
        header = json.loads(arrays.pop("__header__").tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: the header is corrupt ({err}).") from None
    if header.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a scratchdae checkpoint (format {header.get('format')!r}).")
    if header.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path} has format version {header.get('format_version')}, this scratchdae "
                              f"({__version__}) reads version {FORMAT_VERSION}. Fix: use the scratchdae version "
                              f"that wrote it ({header.get('scratchdae_version')}), or retrain.")
    if kind is not None and header.get("kind") != kind:
        raise CheckpointError(f"{path} holds a {header.get('kind')!r}, expected a {kind!r}.")
    return arrays, header


def model_arrays(model, loss):
    """The arrays that define a trained model: its parameters and the loss's."""
    arrays = {f"param/{k}": v for k, v in model.parameters().items()}
    arrays.update({f"loss/{k}": v for k, v in loss.params.items()})
    return arrays


def restore_model(arrays, header, backend=None):
    """Build the model and loss described by ``header`` and load their arrays."""
    arch = dict(header["architecture"])
    try:
        model = Autoencoder(arch.pop("n_in"), arch.pop("hidden"), backend=backend, dtype=header["dtype"], **arch)
    except (TypeError, KeyError) as err:
        raise CheckpointError(f"the checkpoint's architecture {header['architecture']} is not valid ({err}).") from None
    loss = get_loss(header["loss"], backend=model.backend, dtype=model.dtype)
    params = {k[len("param/"):]: v for k, v in arrays.items() if k.startswith("param/")}
    bad = sorted(k for k, v in arrays.items() if k.startswith(("param/", "loss/")) and v.dtype.kind == "f"
                 and not np.isfinite(v).all())
    if bad:
        raise CheckpointError(f"the checkpoint's {', '.join(bad)} hold NaN or inf: the model would output garbage. "
                              "Fix: use a model.npz written by a run that did not diverge, or retrain.")
    try:
        model.load_parameters(params)
    except ValueError as err:
        raise CheckpointError(f"the checkpoint does not fit its own architecture: {err}") from None
    for k, p in loss.params.items():
        key = f"loss/{k}"
        if key not in arrays or arrays[key].shape != p.shape:
            raise CheckpointError(f"the checkpoint lacks the loss parameter {k!r} of shape {p.shape}.")
        p[...] = model.backend.asarray(arrays[key], dtype=model.dtype)
    return model, loss


def model_header(model, loss, corruption, **extra):
    """The JSON header of a model: architecture, loss, corruption, and the task's entries
    (``task``; ``normalisation`` of images, or the ``window`` of a document model)."""
    return {"kind": "model", "architecture": model.config, "dtype": model.dtype.name, "loss": loss.config(),
            "corruption": corruption.spec(), "trained_on": model.backend.name, **extra}


def save_model(path, model, loss, corruption, **extra):
    """Write ``model.npz``: what evaluate and denoise need."""
    return save_npz(path, model_arrays(model, loss), model_header(model, loss, corruption, **extra))


def load_model(path, backend=None):
    """Read a ``model.npz``: returns ``(model, loss, header)`` on the chosen backend."""
    arrays, header = load_npz(path, kind="model")
    model, loss = restore_model(arrays, header, get_backend(backend))
    return model, loss, header
