r"""checkpoint.npz: what a run saves to continue, how it is checked, and the state it continues from.

A checkpoint holds the model, the optimizer's moments, the random generators'
states, the epoch and step, the order of this epoch's examples, the
early-stopping record (with the SHA-256 of the best weights), the running
training loss and the whole history; the best weights so far are model.npz
itself, checked against that record on resume. Resuming on NumPy continues
to exactly the weights an uninterrupted run reaches.
"""
import hashlib
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..backend import Backend, to_host
from ..checkpoint import CheckpointError, _sizes, load_npz, model_arrays, model_header, restore_model, save_npz
from .config import TrainConfig, refuse_changes


@dataclass
class RunState:
    """Where a run stands: the counters, the records and the generators a checkpoint saves."""

    shuffle_rng: Any  # host: the order of the examples
    noise_rng: Any  # device: the corruption of training batches
    history: list = field(default_factory=list)  # one record an epoch
    epoch: int = 0  # epochs done
    step: int = 0  # steps done in this epoch
    perm: np.ndarray | None = None  # this epoch's order of the examples
    best: dict = field(default_factory=lambda: {"val_loss": math.inf, "epoch": -1, "bad_epochs": 0})
    running: list = field(default_factory=lambda: [0.0, 0])  # this epoch's summed training loss, examples

    def summary(self) -> dict[str, Any]:
        """The history in short, as model.npz keeps it."""
        return {"epochs": len(self.history), "best_epoch": self.best["epoch"] + 1,
                "best_val_loss": self.best["val_loss"], "last": self.history[-1] if self.history else None}

    @classmethod
    def start(cls, seed: int, be: Backend) -> "RunState":
        """A new run's state: generators seeded from the run's seed."""
        return cls(np.random.default_rng([seed, 2]), be.rng(seed + 3))


@dataclass
class Saved:
    """What a resume reads from checkpoint.npz: the run's settings (with the changes a resume may make),
    its arrays and its header."""

    config: TrainConfig
    arrays: dict
    header: dict
    path: Path


def read_checkpoint(out: Path, overrides: dict[str, Any], log: Callable[[str], None]) -> Saved:
    """The run in ``out`` to resume, checked whole before anything trains: its checkpoint, its best model so far,
    and the changes asked for (only RESUME_MAY_CHANGE may change)."""
    path, model_path = out / "checkpoint.npz", out / "model.npz"
    if not os.path.lexists(path):
        where = f"{out} holds no checkpoint.npz" if out.is_dir() else f"the folder {out} does not exist"
        raise ValueError(f"there is nothing to resume: {where} (a run writes it at the end of its first epoch, "
                         "or when stopped). Fix: check --out, or drop --resume to start a new run.")
    try:
        arrays, header = load_npz(path, kind="training-state")
    except CheckpointError as err:  # the reason, with the fix that fits a resume
        raise CheckpointError(f"{str(err).split(' Fix:')[0]} Fix: restore an intact copy of checkpoint.npz, or "
                              "start a new run in another --out folder (model.npz keeps the best weights so "
                              "far).") from None
    try:
        saved = TrainConfig.from_saved(header["config"], out=str(out))
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{path}: its saved settings are not valid ({err}). The file is damaged or "
                              "from another version. Fix: start a new run in another --out folder.") from None
    if header["history"]:  # the best weights so far live only in model.npz: it must be there, whole, and this run's
        check_best_model(model_path, header)
    epochs = overrides.get("epochs")
    if epochs == header["epoch"]:
        log(f"{out} has already trained {header['epoch']} epochs: nothing to do (--epochs N with N larger trains "
            "further)")
    if epochs is not None and epochs < header["epoch"]:
        raise ValueError(f"--epochs {epochs} asks for fewer epochs than the {header['epoch']} this run "
                         f"has done. Fix: --epochs {header['epoch'] + 1} or more to train further.")
    refuse_changes(overrides, saved)  # the command that started the run, with --resume added, is fine
    cfg = TrainConfig(**{**asdict(saved), **overrides, "out": str(out)})
    log(f"resuming {out} at epoch {header['epoch'] + 1}, step {header['step']}")
    return Saved(cfg, arrays, header, path)


def check_best_model(model_path: Path, header: dict[str, Any]) -> None:
    """model.npz is the best model of the run whose checkpoint header is ``header``: readable, trained on its data,
    of its architecture and loss, with the weights whose digest the checkpoint recorded (runs of earlier versions
    recorded none)."""
    try:
        if not model_path.is_file():
            raise CheckpointError("it is missing")
        arrays, kept = load_npz(model_path, kind="model")
        restore_model(arrays, kept, "numpy", model_path)  # whole: weights that fit, finite
    except (CheckpointError, OSError) as err:
        why = str(err).split(" Fix:")[0]
        raise CheckpointError(f"{model_path}, the best model of this run so far, cannot be read ({why}); "
                              "resuming would lose it for good. Fix: restore it from a copy, or start a new "
                              "run in another --out folder.") from None
    why = None
    if kept.get("data", {}).get("sha256") != header["data"]["sha256"]:
        why = "it was trained on other data"
    elif kept["architecture"] != header["architecture"]:
        a, b = kept["architecture"], header["architecture"]
        diff = ", ".join(f"{k} {a.get(k)}, not {b.get(k)}" for k in sorted({*a, *b}) if a.get(k) != b.get(k))
        why = f"it is a {_sizes(a)} network ({diff}), and this run trains a {_sizes(b)} one"
    elif kept["loss"] != header["loss"]:
        why = f"its loss is {kept['loss']}, and this run's is {header['loss']}"
    elif header["best"].get("sha256", weights_digest(arrays)) != weights_digest(arrays):
        why = "its weights are not those this run saved as its best: their SHA-256 differs from the checkpoint's"
    if why:
        raise CheckpointError(f"{model_path} is not the best model of the run in {model_path.parent} ({why}): "
                              "another run's model; resuming would continue this run's history with its weights. "
                              "Fix: put this run's model.npz back, or start a new run in another --out folder.")


def weights_digest(arrays: dict[str, Any]) -> str:
    """SHA-256 of a model's weights and its loss's parameters (the param/ and loss/ arrays, on the host): what a
    checkpoint records of its run's best model."""
    h = hashlib.sha256()
    for name in sorted(k for k in arrays if k.startswith(("param/", "loss/"))):
        a = np.ascontiguousarray(to_host(arrays[name]))
        h.update(f"{name}{a.dtype.str}{a.shape}".encode())
        h.update(a.data)
    return h.hexdigest()


def restore(saved: Saved, state: RunState, be: Backend, opt: Any, params_of: Callable, n: int) -> tuple:
    """Continue from ``saved``: the model and loss with the saved weights, the optimizer's moments, the generators'
    states and the counters written into ``state``. Returns ``(model, loss, params)``."""
    arrays, header, path, cfg = saved.arrays, saved.header, saved.path, saved.config
    model, loss = restore_model(arrays, header, be)  # the saved weights replace the fresh ones
    params = params_of(model, loss)
    check_optimizer_state(arrays, params, opt, header["optimizer_t"], path)
    try:
        opt.load_state_arrays({k[4:]: v for k, v in arrays.items() if k.startswith("opt/")}, params,
                              header["optimizer_t"])
        state.shuffle_rng.bit_generator.state = header["rng"]["shuffle"]
        if header["rng"]["noise"] is not None and be.name == "numpy":
            state.noise_rng.bit_generator.state = header["rng"]["noise"]
        else:  # CuPy's generator state cannot be saved: a fresh stream, seeded by where we resume
            state.noise_rng = be.rng(cfg.seed + 3 + 1_000_003 * (header["epoch"] + 1) + header["step"])
    except (ValueError, TypeError, KeyError, OverflowError) as err:
        raise CheckpointError(f"{path}: its optimizer or random-generator state is damaged ({err}). "
                              "Fix: start a new run, or restore an intact copy of the checkpoint.") from None
    state.history, state.epoch, state.step, state.best = header["history"], header["epoch"], header["step"], \
        header["best"]
    state.running = list(header["running"])
    if state.step:
        state.perm = check_resume_order(arrays.get("perm"), state.step, n, cfg.batch_size, path)
    return model, loss, params


def write_checkpoint(path: Path, cfg: TrainConfig, state: RunState, model: Any, loss: Any, corrupt: Any, opt: Any,
                     data: Any, data_record: dict[str, Any], keep_order: bool) -> None:
    """checkpoint.npz: everything needed to continue exactly from here (``keep_order``: mid-epoch, with the
    order of this epoch's examples)."""
    arrays = {**model_arrays(model, loss), **{f"opt/{k}": v for k, v in opt.state_arrays().items()}}
    if keep_order and state.perm is not None:
        arrays["perm"] = state.perm
    header = model_header(model, loss, corrupt, dataset=data.name, data=data_record, **data.header)
    header.update(kind="training-state", config=cfg.saved(), epoch=state.epoch, step=state.step if keep_order else 0,
                  optimizer_t=opt.t, history=state.history, best=state.best, running=state.running,
                  rng={"shuffle": rng_state(state.shuffle_rng), "noise": rng_state(state.noise_rng)})
    save_npz(path, arrays, header)


def check_same_data(saved: Saved | None, record: dict[str, Any], out: Path) -> None:
    """A resumed run trains on the data it started on (count and SHA-256 of the rows)."""
    if saved is None:
        return
    then = saved.header.get("data", {})
    if then.get("sha256", record["sha256"]) != record["sha256"]:
        raise ValueError(f"the training data differ from those the run in {out} started on (it saw "
                         f"{then['n_train']:,} training rows with SHA-256 {then['sha256'][:12]}..., "
                         f"now {record['n_train']:,} rows with {record['sha256'][:12]}...). Resuming would "
                         "train on other data. Fix: restore the original data, or start a new run in another --out.")


def rng_state(rng: Any) -> dict | None:
    """A generator's state as JSON-able data (NumPy); None where it cannot be saved (CuPy)."""
    return rng.bit_generator.state if isinstance(rng, np.random.Generator) else None


def check_optimizer_state(arrays: dict, params: dict, opt: Any, t: int, path: Path) -> None:
    """After ``t`` > 0 steps every parameter's optimizer state is in the checkpoint, finite, and (Adam's v)
    not negative."""
    expected = {f"opt/{name}/{k}" for name in params for k in opt.keys} if t else set()
    found = {k for k in arrays if k.startswith("opt/")}
    bad = sorted(k for k in found & expected if not np.isfinite(arrays[k]).all()
                 or (k.endswith("/v") and opt.name == "adam" and (arrays[k] < 0).any()))
    if expected - found or bad:
        what = (f"lacks {sorted(expected - found)[:3]}" if expected - found
                else f"holds NaN, inf or negative second moments in {bad[:3]}")
        raise CheckpointError(f"{path}: its optimizer state {what}; resuming would not continue the run. The file is "
                              "damaged. Fix: start a new run, or restore an intact copy.")


def check_resume_order(perm: np.ndarray | None, step: int, n: int, batch_size: int,
                       path: str | Path) -> np.ndarray:
    """The saved order of this epoch's examples: a permutation of 0..n-1 that ``step`` batches fit in."""
    if perm is None or perm.ndim != 1 or perm.dtype.kind not in "iu" or len(perm) != n:
        got = "none" if perm is None else f"{perm.dtype} of shape {perm.shape}"
        raise CheckpointError(f"{path}: the saved order of examples must be {n:,} integers, got {got}. The file is "
                              "damaged. Fix: start a new run, or restore an intact copy.")
    if not np.array_equal(np.sort(perm), np.arange(n)) or step > math.ceil(n / batch_size):
        raise CheckpointError(f"{path}: the saved order of examples is not a permutation of the {n:,} training rows, "
                              f"or step {step} lies past the epoch's end. The file is damaged. Fix: start a new run, "
                              "or restore an intact copy.")
    return perm.astype(np.int64)
