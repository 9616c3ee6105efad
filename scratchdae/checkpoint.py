r"""Checkpoints: one .npz of plain arrays plus a JSON header.

Two kinds, same format:

* ``model.npz``: a trained model to use (evaluate, denoise): its parameters,
  the loss's parameters, and a header with the architecture, loss, corruption,
  data normalisation and a summary of the training history. A model file may
  embed other models (an application's: a stacked document cleaner holds its
  first stage): each one's header as an entry of the header, its arrays under
  a prefix of their own, read with ``load_npz(..., embedded={prefix: entry})``.
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
import math
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .activations import ACTIVATIONS
from .backend import Array, Backend, get_backend, to_host
from .corruption import Corruption, get_corruption
from .files import atomic_write
from .losses import Loss, get_loss
from .model import Autoencoder, parameter_shapes

MIN_LOG_VAR = -60.0  # log sigma^2 of a learned sigma: exp(60) times a squared error stays finite in float32

FORMAT = "scratchdae"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, of another version or another shape."""


def save_npz(path: str | Path, arrays: dict[str, Array], header: dict[str, Any]) -> Path:
    """Write host copies of ``arrays`` and the JSON ``header`` to ``path`` atomically."""
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "scratchdae_version": __version__, **header}
    payload = {k: to_host(v) for k, v in arrays.items()}
    payload["__header__"] = np.frombuffer(json.dumps(header, default=_json_value).encode("utf-8"), dtype=np.uint8)
    with atomic_write(path) as f:
        np.savez(f, **payload)
    return Path(path)


def load_npz(path: str | Path, kind: str | None = None, embedded: dict[str, str] | None = None,
             header_only: bool = False) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read ``(arrays, header)``, checking the format, version, kind and the whole header.

    Only the members a checkpoint of that kind holds are read (an unknown member is
    never inflated), and each one's size is checked against what the header's
    architecture allows before it is read. ``embedded`` (prefix -> header entry) also
    reads the arrays of models embedded in the file, each checked against its own header. ``header_only``
    reads and checks the header alone, and returns no arrays.
    """
    if not isinstance(path, (str, Path)):
        raise TypeError(f"a model file's path must be a str or Path, got {type(path).__name__}. Fix: "
                        "load_model('runs/NAME/model.npz').")
    if not str(path).strip():  # Path('') would be '.', the current folder
        raise CheckpointError(f"a model file's path is empty ({str(path)!r}). Fix: pass the .npz file, e.g. "
                              "load_model('runs/NAME/model.npz').")
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise CheckpointError(f"{path} is a link that leads nowhere (or to itself). Fix: pass the .npz file itself.")
    if not path.exists():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist. Fix: train a model first "
                              "(scratchdae train --out DIR writes DIR/model.npz).")
    if not path.is_file():
        raise CheckpointError(f"{path} is a folder or a device, not a checkpoint file. Fix: pass the .npz file "
                              "itself (a run folder's model.npz).")
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic == b"\x93NUMPY":
        raise CheckpointError(f"{path} is a .npy file (one array), not a scratchdae .npz checkpoint. Fix: pass the "
                              "model.npz written by scratchdae train.")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path} is not a readable .npz checkpoint (not a zip archive: truncated or another "
                              "format). Fix: pass the model.npz written by scratchdae train, or retrain.")
    try:
        with zipfile.ZipFile(path) as z:
            members = {info.filename.removesuffix(".npy"): info for info in z.infolist()}
            if "__header__" not in members:
                raise CheckpointError(f"{path} is an .npz file but not a scratchdae checkpoint (no header). Fix: pass "
                                      "a model.npz written by scratchdae train.")
            header = _parse_header(path, _read_member(path, z, members["__header__"], MAX_HEADER_BYTES))
            check_header(header, path, kind)
            if header_only:
                return {}, header
            embedded = {prefix: entry for prefix, entry in (embedded or {}).items() if entry in header}
            for entry in embedded.values():
                check_header(header[entry], f"{path} (its {entry.replace('_', ' ')})", "model")
            arrays = {name: _read_member(path, z, info, _member_limit(header, name, embedded))
                      for name, info in members.items()
                      if name.startswith((*MEMBER_PREFIXES, *embedded)) or name == "perm"}
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, RuntimeError, NotImplementedError) as err:
        # RuntimeError: an encrypted member; NotImplementedError: a compression zip files may use, numpy never does
        raise CheckpointError(f"{path} is not a readable .npz checkpoint ({err}). Fix: retrain, or use "
                              "an intact copy.") from None
    return arrays, header


MAX_HEADER_BYTES = 64 * 2**20  # a header with a long history is a few MB
MEMBER_PREFIXES = ("param/", "loss/", "opt/")


def _read_member(path, z, info, limit):
    """One .npy member as an array, refusing it before inflation when it declares more than ``limit`` bytes."""
    lies = (info.file_size != info.compress_size if info.compress_type == zipfile.ZIP_STORED  # stored: as large as said
            else info.file_size > 1000 * info.compress_size + 4096)  # no weights compress 1000 to 1: a bomb
    if lies:
        raise CheckpointError(f"{path}: member {info.filename!r} declares {info.file_size:,} bytes in "
                              f"{info.compress_size:,} stored. The file is damaged or built to exhaust memory. Fix: "
                              "retrain, or use an intact copy.")
    if info.file_size > limit:
        raise CheckpointError(f"{path}: member {info.filename!r} declares {info.file_size:,} bytes, more than the "
                              f"{limit:,} its header's architecture allows. The file is damaged or not a "
                              "scratchdae checkpoint. Fix: retrain, or use an intact copy.")
    with z.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read_header(f)
            if dtype.hasobject or math.prod(shape) * dtype.itemsize > info.file_size:
                raise ValueError(f"its .npy header announces {dtype} of shape {shape}, more than the "
                                 f"{info.file_size:,} bytes it holds" if not dtype.hasobject else "Python objects")
            f.seek(0)
            a = np.lib.format.read_array(f, allow_pickle=False)
        except ValueError as err:
            raise CheckpointError(f"{path}: member {info.filename!r} is not a NumPy array ({err}). The file is "
                                  "damaged or not a scratchdae checkpoint. Fix: retrain, or use an intact "
                                  "copy.") from None
    if a.dtype.kind not in "fiu":
        raise CheckpointError(f"{path}: member {info.filename!r} holds {a.dtype} values, expected numbers. The file "
                              "is damaged. Fix: retrain, or use an intact copy.")
    return a


def _member_limit(header, name, embedded):
    """Bytes a member may declare: its largest parameter in float64 (an embedded model's member: that
    model's), or, in a training state, the training order (perm) of the data record's rows."""
    if name == "perm" and header["kind"] == "training-state":
        return 8 * header["data"]["n_train"] + 4096
    entry = next((entry for prefix, entry in embedded.items() if name.startswith(prefix)), None)
    arch = (header[entry] if entry else header)["architecture"]
    largest = max(math.prod(shape) for shape in parameter_shapes(**arch).values())
    return 8 * largest + 4096


def _parse_header(path, raw):
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise CheckpointError(f"{path}: the header must be a 1-D uint8 array of JSON text, got {raw.dtype} of shape "
                              f"{raw.shape}. Fix: pass a model.npz written by scratchdae train.")
    try:
        return json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as err:
        raise CheckpointError(f"{path}: the header is corrupt ({str(err)[:200]}). Fix: retrain, or use an intact "
                              "copy.") from None


# -- the header's schema ----------------------------------------------------------

def _is_int(v, low=0):
    return isinstance(v, int) and not isinstance(v, bool) and v >= low


def _is_sizes(v, allow_empty):
    return isinstance(v, list) and (allow_empty or v) and all(_is_int(h, 1) for h in v)


def _application(task):
    from .tasks import application  # the registry of the applications built on the core

    return application(task)


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


ARCHITECTURE = {  # entry: (required, check, what it must be)
    "n_in": (True, lambda v: _is_int(v, 1), "a positive integer"),
    "hidden": (True, lambda v: _is_sizes(v, False), "a non-empty list of positive integers"),
    "decoder_hidden": (False, lambda v: _is_sizes(v, True), "a list of positive integers"),
    "n_out": (False, lambda v: _is_int(v, 1), "a positive integer"),
    "activation": (False, lambda v: v in ACTIVATIONS, f"one of {', '.join(ACTIVATIONS)}"),
    "output_activation": (False, lambda v: v in ACTIVATIONS, f"one of {', '.join(ACTIVATIONS)}"),
    "tied": (False, lambda v: isinstance(v, bool), "true or false"),
    "variance_head": (False, lambda v: isinstance(v, bool), "true or false"),
}
MODEL = {
    "kind": (True, lambda v: v in ("model", "training-state"), "'model' or 'training-state'"),
    "architecture": (True, lambda v: isinstance(v, dict), "an object (n_in, hidden, ...)"),
    "dtype": (True, lambda v: v in ("float32", "float64"), "'float32' or 'float64'"),
    "loss": (True, lambda v: isinstance(v, str) or (isinstance(v, dict) and isinstance(v.get("name"), str)),
             "a loss spec or an object with a name"),
    "corruption": (True, lambda v: isinstance(v, str), "a noise spec such as 'gaussian:0.5'"),
    "task": (False, lambda v: v in ("images", "points") or _application(v) is not None,
             "'images', 'points' or the task of an installed application ('documents')"),
    "normalisation": (False, lambda v: isinstance(v, dict) and _is_sizes(v.get("image_shape"), False)
                      and len(v["image_shape"]) == 2 and _is_number(v.get("scale", 1.0)) and v.get("scale", 1.0) > 0,
                      "an object with image_shape [height, width] and a scale"),
    "data": (False, lambda v: isinstance(v, dict), "an object"),
}
TRAINING_STATE = {
    "config": (True, lambda v: isinstance(v, dict), "an object of training settings"),
    "epoch": (True, _is_int, "an integer >= 0"),
    "step": (True, _is_int, "an integer >= 0"),
    "optimizer_t": (True, _is_int, "an integer >= 0"),
    "history": (True, lambda v: isinstance(v, list) and all(isinstance(r, dict) for r in v),
                "a list of one record per epoch"),
    "best": (True, lambda v: isinstance(v, dict) and _is_number(v.get("val_loss")) and not math.isnan(v["val_loss"])
             and _is_int(v.get("epoch"), -1) and _is_int(v.get("bad_epochs")),
             "an object with val_loss (a number, inf before the first epoch), epoch and bad_epochs"),
    "running": (True, lambda v: isinstance(v, list) and len(v) == 2 and all(map(_is_number, v)), "[sum, count]"),
    "rng": (True, lambda v: isinstance(v, dict) and isinstance(v.get("shuffle"), dict)
            and (v.get("noise") is None or isinstance(v["noise"], dict)), "the random generators' states"),
    "data": (True, lambda v: isinstance(v, dict) and isinstance(v.get("sha256"), str) and _is_int(v.get("n_train")),
             "the record of the training data (sha256, n_train)"),
}


def _check_entries(header, schema, path, where="the header's"):
    for key, (required, ok, expected) in schema.items():
        if key not in header:
            if required:
                raise CheckpointError(f"{path}: {where} entry {key!r} is missing; it must be {expected}. The file is "
                                      "damaged or was not written by scratchdae. Fix: retrain, or use an intact copy.")
        elif not ok(header[key]):
            raise CheckpointError(f"{path}: {where} entry {key!r} must be {expected}, got {header[key]!r:.200}. The "
                                  "file is damaged or was not written by scratchdae. Fix: retrain, or use an intact "
                                  "copy.")


def check_header(header: Any, path: str | Path = "checkpoint", kind: str | None = None) -> dict[str, Any]:
    """Check a header against the schema of what scratchdae writes, before anything uses it; returns it.

    ``header`` is whatever the file's JSON held: anything but an object is refused too.
    """
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: the header must be a JSON object, got {type(header).__name__} "
                              f"({header!r:.100}). The file is not a scratchdae checkpoint. Fix: pass a model.npz "
                              "written by scratchdae train.")
    if header.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a scratchdae checkpoint (format {header.get('format')!r}). Fix: pass a "
                              "model.npz written by scratchdae train.")
    version = header.get("format_version")
    if not _is_int(version):
        raise CheckpointError(f"{path}: the header's format_version must be an integer, got {version!r}. The file is "
                              "damaged or was not written by scratchdae. Fix: retrain, or use an intact copy.")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{path} has format version {version}, this scratchdae ({__version__}) reads version "
                              f"{FORMAT_VERSION}. Fix: use the scratchdae version that wrote it "
                              f"({header.get('scratchdae_version')}), or retrain.")
    _check_entries(header, MODEL, path)
    if kind is not None and header["kind"] != kind:
        raise CheckpointError(f"{path} holds a {header['kind']!r}, expected a {kind!r}. Fix: pass "
                              f"{'model.npz' if kind == 'model' else 'the run folder with its checkpoint.npz'}.")
    _check_entries(header["architecture"], ARCHITECTURE, path, "the architecture's")
    unknown = sorted(set(header["architecture"]) - set(ARCHITECTURE))
    if unknown:
        raise CheckpointError(f"{path}: the architecture has unknown entries {unknown}. The file was written by "
                              "another version or is damaged. Fix: retrain.")
    shape = header.get("normalisation", {}).get("image_shape")
    n_in = header["architecture"]["n_in"]
    if shape and shape[0] * shape[1] != n_in:
        raise CheckpointError(f"{path}: the images are {shape[0]}x{shape[1]} = {shape[0] * shape[1]} pixels, and "
                              f"the model reads {n_in}. The file is damaged. Fix: retrain, or use an intact copy.")
    if header["kind"] == "training-state":
        _check_entries(header, TRAINING_STATE, path)
        if header["epoch"] != len(header["history"]):
            raise CheckpointError(f"{path}: it says {header['epoch']} epochs are done and holds the record of "
                                  f"{len(header['history'])}. The file is damaged. Fix: start a new run, or restore "
                                  "an intact copy.")
    return header


def model_arrays(model: Autoencoder, loss: Loss) -> dict[str, Array]:
    """The arrays that define a trained model: its parameters and the loss's."""
    arrays = {f"param/{k}": v for k, v in model.parameters().items()}
    arrays.update({f"loss/{k}": v for k, v in loss.params.items()})
    return arrays


def restore_model(arrays: dict[str, np.ndarray], header: dict[str, Any], backend: str | Backend | None = None,
                  path: str | Path = "the checkpoint") -> tuple[Autoencoder, Loss]:
    """Build the model and loss described by ``header`` and load their arrays.

    The header is checked first, and the parameter count its architecture implies
    is compared with the arrays in the file before any weight is allocated.
    """
    check_header(header, path)
    arch = dict(header["architecture"])
    params = {k[len("param/"):]: v for k, v in arrays.items() if k.startswith("param/")}
    expected = parameter_shapes(**arch)
    missing, extra = sorted(set(expected) - set(params)), sorted(set(params) - set(expected))
    if missing or extra:
        raise CheckpointError(f"{path}: its parameters do not match its architecture {_sizes(arch)}: missing "
                              f"{missing}, unexpected {extra}. The file is damaged. Fix: retrain, or use an "
                              "intact copy.")
    for name, shape in expected.items():
        if tuple(params[name].shape) != shape:
            raise CheckpointError(f"{path} does not fit its own architecture {_sizes(arch)}: parameter {name} has "
                                  f"shape {tuple(params[name].shape)}, this model expects {shape}. The file is "
                                  "damaged. Fix: retrain, or use an intact copy.")
    largest = float(np.finfo(header["dtype"]).max)  # beyond it the model's dtype holds inf
    bad = sorted(k for k, v in arrays.items() if k.startswith(("param/", "loss/")) and v.size
                 and (not np.isfinite(v).all() or float(np.abs(v).max()) > largest))
    if "loss/log_var" in arrays and arrays["loss/log_var"].size:  # a learned sigma, not so small that the
        log_var = arrays["loss/log_var"].astype(np.float64)  # NLL's 1/sigma^2 overflows float32 (sigma < 1e-13)
        if not (np.isfinite(log_var).all() and log_var.min() >= MIN_LOG_VAR):
            bad.append("loss/log_var (a learned sigma below 1e-13)")
    if bad:
        raise CheckpointError(f"{path}: its {', '.join(bad)} hold NaN, inf or values too large for "
                              f"{header['dtype']}: the model would output garbage. Fix: use a model.npz written by a "
                              "run that did not diverge, or retrain.")
    try:
        model = Autoencoder(arch.pop("n_in"), arch.pop("hidden"), backend=backend, dtype=header["dtype"], **arch)
        loss = get_loss(header["loss"], backend=model.backend, dtype=model.dtype)
        get_corruption(header["corruption"])
        if loss.needs_variance_head != model.config["variance_head"]:
            raise ValueError(f"the loss {loss.name} {'needs' if loss.needs_variance_head else 'has no use for'} "
                             "the model's variance head, and the architecture says the opposite")
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{path}: its header does not describe a model this scratchdae can build ({err}). "
                              "Fix: retrain, or use an intact copy.") from None
    try:
        model.load_parameters(params)
    except ValueError as err:
        raise CheckpointError(f"{path} does not fit its own architecture: {err}") from None
    for k, p in loss.params.items():
        key = f"loss/{k}"
        if key not in arrays or arrays[key].shape != p.shape:
            raise CheckpointError(f"{path} lacks the loss parameter {k!r} of shape {p.shape}. The file is damaged. "
                                  "Fix: retrain, or use an intact copy.")
        p[...] = model.backend.asarray(arrays[key], dtype=model.dtype)
    return model, loss


def _sizes(arch):
    return "-".join(map(str, [arch["n_in"], *arch["hidden"], *arch.get("decoder_hidden", arch["hidden"][-2::-1]),
                              arch.get("n_out", arch["n_in"])]))


def model_header(model: Autoencoder, loss: Loss, corruption: Corruption, **extra: Any) -> dict[str, Any]:
    """The JSON header of a model: architecture, loss, corruption, and the task's entries
    (``task``; ``normalisation`` of images; an application's own)."""
    return {"kind": "model", "architecture": model.config, "dtype": model.dtype.name, "loss": loss.config(),
            "corruption": corruption.spec(), "trained_on": model.backend.name, **extra}


def save_model(path: str | Path, model: Autoencoder, loss: Loss, corruption: Corruption, *,
               arrays: dict[str, Array] | None = None, **extra: Any) -> Path:
    """Write ``model.npz``: what evaluate and denoise need.

    ``extra`` adds entries to the header (``task``, ``normalisation`` of images, ...); ``arrays`` adds the
    arrays of embedded models (an application's: a stacked cleaner's first stage), named under a prefix of
    their own. The file is checked as :func:`load_model` will check it before anything is written, so a
    model that could not be loaded again (NaN weights, a header entry of the wrong kind) is refused here.
    """
    for name, value, wanted in (("model", model, Autoencoder), ("loss", loss, Loss),
                                ("corruption", corruption, Corruption)):
        if not isinstance(value, wanted):
            raise TypeError(f"save_model's {name} must be a {wanted.__name__}, got {type(value).__name__}. Fix: e.g. "
                            "save_model(path, model, get_loss('gaussian:0.1'), get_corruption('gaussian:0.5')).")
    reserved = sorted(set(extra) & RESERVED)
    if reserved:
        raise ValueError(f"save_model writes the header entries {', '.join(reserved)} itself. Fix: drop them from "
                         "the keyword arguments.")
    others = dict(arrays or {})
    if any(k.startswith(MEMBER_PREFIXES) or k == "perm" or "/" not in k for k in others):
        raise ValueError(f"save_model's arrays are an embedded model's, named under a prefix of their own "
                         f"('first/param/W0'), not {', '.join(MEMBER_PREFIXES)} or perm; got {sorted(others)[:3]}. "
                         "Fix: rename them.")
    arrays, header = {**model_arrays(model, loss), **others}, model_header(model, loss, corruption, **extra)
    full = json.loads(json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION, **header}, default=_json_value))
    check_header(full, path, "model")
    app = _application(full.get("task"))
    if app is not None and app.check_model is not None:  # an application's own entries (a document model's windows)
        app.check_model(full, path)
    largest = float(np.finfo(model.dtype).max)
    for name, a in arrays.items():
        host = to_host(a)
        if host.size and (not np.isfinite(host).all() or float(np.abs(host).max()) > largest):
            raise ValueError(f"the model's {name} holds NaN or inf: a file that load_model would refuse. Fix: save a "
                             "model that has not diverged.")
    return save_npz(path, arrays, header)


RESERVED = {"format", "format_version", "scratchdae_version", "kind", "architecture", "dtype", "loss", "corruption",
            "trained_on"}


def _json_value(value: Any) -> Any:
    """NumPy scalars and arrays in a header become plain numbers and lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"a header entry of type {type(value).__name__} cannot be stored as JSON. Fix: pass numbers, "
                    "strings, lists or dicts.")


def load_model(path: str | Path, backend: str | Backend | None = None) -> tuple[Autoencoder, Loss, dict[str, Any]]:
    """Read a ``model.npz``: returns ``(model, loss, header)`` on the chosen backend."""
    arrays, header = load_npz(path, kind="model")
    model, loss = restore_model(arrays, header, get_backend(backend), path)
    return model, loss, header
