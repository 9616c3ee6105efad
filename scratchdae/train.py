r"""Training a denoising autoencoder: the loop, checkpoints, resume.

The loop reads top to bottom, as in nanoGPT's train.py:

    for each epoch:
        learning rate from the schedule
        reshuffle the training images
        for each mini-batch x:
            x~ = q(x~ | x)                 fresh corruption          (C1)-(C4)
            forward, loss                  -log p(x | E(x~))         (DA1), estimated by (L1)
            backward                                                 (D2)-(D4)
            optimizer step                                           (O1)-(O6), (O10)
        validate on held-out images (a fixed corruption, so epochs compare)
        write history, model.npz (when validation improved), checkpoint.npz
        stop early when validation stopped improving

Ctrl-C finishes the current step, writes checkpoint.npz and returns; the same
command with ``resume=True`` continues to exactly the weights an uninterrupted
run reaches (on NumPy: the generators' states are saved).
"""
import json
import math
import numbers
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from .activations import ACTIVATIONS
from .backend import Array, get_backend, keep_freed_host_memory
from .checkpoint import (CheckpointError, load_model, load_npz, model_arrays, model_header, restore_model, save_model,
                         save_npz)
from .corruption import get_corruption
from .files import atomic_write, check_folder, folder_lock, make_folder
from .inference import evaluate_arrays
from .losses import Loss, get_loss
from .model import Autoencoder
from .optim import get_optimizer, learning_rate
from .documents.generate import MAX_PAGES
from .documents.stacked import FIRST_STAGE_FOLDER, FIRST_VIEW, KEEP_PAPER
from .documents.windows import MAX_SPACING
from .progress import Progress
from .tasks import TASK_DEFAULTS, TaskData, array_data, check_inputs, image_data, task_of, toy_data, validation_count
from .validation import check_positive


@dataclass
class TrainConfig:
    """Every setting of a run; ``scratchdae train`` has one flag for each.

    Settings left at None take the task's default (``TASK_DEFAULTS`` in
    :mod:`scratchdae.tasks`): digits, low-dimensional points and documents
    want different noise, sizes and batches.
    """

    # data
    dataset: str = "mnist-sample"  # mnist-sample | mnist | fashion-mnist | documents | toy:NAME | None for a folder
    data_dir: str = None
    task: str = None  # images | points | documents; default: from the dataset (train(inputs=X): from X's width)
    n_points: int = None  # toy data sets: points drawn for training
    val_fraction: float = 0.1  # held out of the training split for validation
    max_train: int = None  # use only the first N training images (quick demos)
    # documents only
    pages: int = None  # generated training pages
    windows_per_page: int = None  # training windows sampled from each page
    window: int = None  # input window size k (odd)
    patch: int = None  # the clean patch predicted around each pixel, c x c (odd)
    stride: int = None  # cleaning: windows this many pixels apart; each pixel averages the patches covering it
    lines: int = None  # length of the oriented line means each window also sees (0: none)
    mark_windows: float = None  # share of each page's training windows taken near marks that are not text
    wide_paper: int = None  # a second paper estimate this many pixels wide, whose ratio each window also sees (0: none)
    contrast: int = None  # each window also sees the local contrast over this many pixels (0: none)
    stages: int = None  # 1, or 2: a first stage in OUT/first-stage, then a second stage that reads its cleaned pages
    first_stage: str = None  # a document model.npz: train a second stage that reads its cleaned pages (stacked)
    first_view: int = None  # second stage: spacing of its coarse grid over the first stage's output (odd)
    keep_paper: float = None  # second stage: keeps the first stage's patch where its window is all >= this (0: none)
    fonts: str = None  # font families of generated pages, comma-separated (default: all)
    backgrounds: str = None  # background families of generated pages, comma-separated (default: all)
    system_fonts: bool = False  # draw pages with the machine's fonts too (pages then differ between machines)
    variety: bool = False  # generated pages with sizes between whole pixels, stroke weights and ink bleed
    # the DAE
    noise: str = None
    loss: str = "gaussian:0.1"  # Gaussian NLL, sigma 0.1 fixed: about the residual spread of a trained model
    hidden: tuple = None
    decoder_hidden: tuple = None  # default: the encoder mirrored
    activation: str = None  # default relu
    output_activation: str = None  # default: identity for bernoulli (logits) and points, else sigmoid
    tied: bool = False
    # optimisation
    optimizer: str = "adam"
    lr: float = None
    momentum: float = 0.9  # sgd only
    nesterov: bool = False  # sgd only
    weight_decay: float = 0.0
    batch_size: int = None
    epochs: int = None
    lr_schedule: str = None  # constant | cosine | step:K:F
    patience: int = None  # epochs without validation improvement before stopping; 0 turns it off
    max_seconds: float = None  # stop after the epoch that crosses this wall-clock budget
    # running
    seed: int = 0
    backend: str = None
    out: str = None  # default: a new folder under ./runs
    quiet: bool = False
    figures: bool = True

    def __post_init__(self):
        for name in ("tied", "nesterov", "system_fonts", "variety", "quiet", "figures"):  # "no" would be true
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}.")
        for name in ("data_dir", "out", "first_stage"):  # a Path is fine; saved as text
            value = getattr(self, name)
            if isinstance(value, Path):
                setattr(self, name, str(value))
            if value is not None and not str(value).strip():
                raise ValueError(f"{name} is empty. Fix: --{name.replace('_', '-')} "
                                 f"{'FILE' if name == 'first_stage' else 'FOLDER'}, or leave it out.")
        if self.dataset == "mnist-sample" and self.data_dir is not None:
            raise ValueError(f"data_dir {self.data_dir!r} would be ignored: the bundled MNIST sample is not read "
                             "from a folder. Fix: drop --dataset to train on that folder's IDX files (dataset=None in "
                             "Python), or drop --data-dir.")
        natural = task_of(self.dataset)
        self.task = self.task or natural
        if self.task not in TASK_DEFAULTS:
            raise ValueError(f"unknown task {self.task!r}; expected one of {', '.join(TASK_DEFAULTS)}.")
        if self.dataset != "array" and self.task != natural:
            raise ValueError(f"data set {self.dataset!r} trains as task {natural!r}, got task={self.task!r}. "
                             "Fix: drop task; it follows from the data set.")
        if self.task == "points" and str(self.dataset).startswith("toy:") and self.max_train is not None:
            raise ValueError("max_train is for image data sets; a toy data set draws n_points. Fix: n_points=N.")
        if self.task == "documents" and self.first_stage and self.stages is None:
            self.stages = 2  # a second stage, of the first stage given
        if self.task == "documents" and self.data_dir is not None and self.mark_windows is None:
            self.mark_windows = 0.0  # a folder's pages do not say where their marks are
        for k, v in {"activation": "relu", **TASK_DEFAULTS[self.task]}.items():
            if getattr(self, k) is None:
                setattr(self, k, v)
        for name in ("hidden", "decoder_hidden"):
            v = getattr(self, name)
            if v is not None:
                v = (v,) if isinstance(v, numbers.Integral) else tuple(v)
                setattr(self, name, tuple(int(h) if isinstance(h, numbers.Integral) and not isinstance(h, bool)
                                          else h for h in v))
        if self.task == "points" and (not isinstance(self.n_points, int) or not 2 <= self.n_points <= MAX_POINTS):
            raise ValueError(f"n_points must be an integer from 2 to {MAX_POINTS:,}, got {self.n_points!r}. "
                             "Fix: --n-points 20000.")
        if self.task != "points" and self.n_points is not None:
            raise ValueError(f"n_points sets how many points a toy data set draws, and {self.dataset!r} is not one. "
                             "Fix: drop --n-points, or train on --dataset toy:NAME.")
        for name in ("activation", "output_activation"):
            if getattr(self, name) is not None and getattr(self, name) not in ACTIVATIONS:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; expected one of: {', '.join(ACTIVATIONS)}. "
                                 f"Fix: e.g. --{name.replace('_', '-')} identity.")
        for name in ("batch_size", "epochs", "seed", "patience", "max_train", "n_points", "pages", "windows_per_page",
                     "window", "patch", "stride", "lines", "first_view", "stages", "wide_paper", "contrast"):
            v = getattr(self, name)
            if isinstance(v, numbers.Integral) and not isinstance(v, bool):
                setattr(self, name, int(v))  # NumPy integers are fine
        for name in ("lr", "momentum", "weight_decay", "val_fraction", "max_seconds", "mark_windows", "keep_paper"):
            v = getattr(self, name)
            if isinstance(v, numbers.Real) and not isinstance(v, bool):
                setattr(self, name, float(v))  # NumPy floats too; the config is saved as JSON
        for name in ("batch_size", "epochs"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}. Fix: --{name.replace('_', '-')} 10.")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}. Fix: --seed 0.")
        if not isinstance(self.val_fraction, numbers.Real) or not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be a number in (0, 1), got {self.val_fraction!r}. Fix: e.g. 0.1.")
        if self.mark_windows is not None and (not isinstance(self.mark_windows, float)
                                              or not 0.0 <= self.mark_windows <= 0.5):
            raise ValueError(f"mark_windows must be a share in [0, 0.5] (half of the windows are near ink), got "
                             f"{self.mark_windows!r}. Fix: e.g. --mark-windows 0.25.")
        if not isinstance(self.patience, int) or self.patience < 0:
            raise ValueError(f"patience must be an integer >= 0 (0 turns early stopping off), got {self.patience!r}.")
        if self.max_seconds is not None and not (isinstance(self.max_seconds, (int, float)) and
                                                 math.isfinite(self.max_seconds) and self.max_seconds > 0):
            raise ValueError(f"max_seconds must be a finite number of seconds > 0, got {self.max_seconds!r}. "
                             "Fix: e.g. --max-seconds 60, or leave it out.")
        for name in ("pages", "windows_per_page"):
            if self.task == "documents" and (not isinstance(getattr(self, name), int) or getattr(self, name) < 1):
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}. "
                                 f"Fix: --{name.replace('_', '-')} N with N >= 1.")
        if self.max_train is not None and (not isinstance(self.max_train, int) or self.max_train < 2):
            raise ValueError(f"max_train must be an integer of at least 2, got {self.max_train!r}. "
                             "Fix: e.g. --max-train 1000.")
        check_positive(self.lr, "lr")  # a finite number > 0
        if not isinstance(self.momentum, float) or not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum must be a number in [0, 1), got {self.momentum!r}. Fix: --momentum 0.9.")
        if not isinstance(self.weight_decay, float) or not 0.0 <= self.weight_decay <= 1.0:
            raise ValueError(f"weight_decay must be a number from 0 to 1, got {self.weight_decay!r} (larger pulls the "
                             "weights to zero faster than any data can move them). Fix: e.g. --weight-decay 1e-4.")
        self._refuse_what_does_not_apply()
        if self.task == "documents" and self.data_dir is not None and self.mark_windows:
            raise ValueError("--mark-windows needs to know where a page's marks are, which only generated pages "
                             "record. Fix: drop --mark-windows, or train on generated pages.")
        if self.task == "documents" and self.data_dir is not None and self.variety:
            raise ValueError("--variety draws generated pages with more variety; --data-dir trains on the pages of "
                             "that folder. Fix: drop one or the other.")
        if self.task == "documents" and (not isinstance(self.stages, int) or isinstance(self.stages, bool)
                                         or self.stages not in (1, 2)):
            raise ValueError(f"stages must be 1 or 2, got {self.stages!r}. Fix: --stages 2 for a stacked cleaner.")
        if self.first_stage and self.stages != 2:
            raise ValueError(f"--first-stage trains the second of two stages, and --stages {self.stages} was given. "
                             "Fix: drop --stages.")
        if self.task == "documents" and self.stages == 2 and self.first_view is None:
            self.first_view = FIRST_VIEW
        if self.first_view is not None and (not isinstance(self.first_view, int) or isinstance(self.first_view, bool)
                                            or not 1 <= self.first_view <= MAX_SPACING or self.first_view % 2 == 0):
            raise ValueError(f"first_view must be an odd integer from 1 to {MAX_SPACING}, got {self.first_view!r}. "
                             f"Fix: --first-view {FIRST_VIEW}.")
        if self.task == "documents" and self.stages == 2 and self.keep_paper is None:
            self.keep_paper = KEEP_PAPER
        if self.keep_paper is not None and (not isinstance(self.keep_paper, float) or not 0 <= self.keep_paper <= 1):
            raise ValueError(f"keep_paper must be a brightness in [0, 1], got {self.keep_paper!r}. Fix: --keep-paper "
                             f"{KEEP_PAPER}, or 0 to run the second stage on every window.")
        if self.task == "documents":
            for name, most in (("pages", MAX_PAGES), ("windows_per_page", 100_000), ("window", 99)):
                if getattr(self, name) > most:
                    raise ValueError(f"{name} must be at most {most:,}, got {getattr(self, name):,}. "
                                     f"Fix: --{name.replace('_', '-')} {TASK_DEFAULTS['documents'][name]}.")
        if self.out is not None and not str(self.out).strip():
            raise ValueError("out is empty. Fix: --out runs/NAME, or leave it out for a new folder under runs/.")

    def _refuse_what_does_not_apply(self) -> None:
        """Options that would be ignored without a word are refused: the user meant something by them."""
        ignored = []
        if self.task != "documents":
            ignored += [f"--{k.replace('_', '-')}" for k in ("pages", "windows_per_page", "window", "patch", "stride",
                                                               "lines", "mark_windows", "fonts", "backgrounds",
                                                               "stages", "first_stage", "first_view", "wide_paper",
                                                               "contrast", "keep_paper")
                        if getattr(self, k) is not None]
            ignored += ["--system-fonts"] if self.system_fonts else []
            ignored += ["--variety"] if self.variety else []
            why = "for --dataset documents only"
        if self.optimizer != "sgd" and (self.nesterov or self.momentum != 0.9):
            ignored, why = ["--momentum/--nesterov"], f"for --optimizer sgd only; this run uses {self.optimizer}"
        second_only = [f"--{k.replace('_', '-')}" for k in ("first_view", "keep_paper") if getattr(self, k) is not None]
        if self.task == "documents" and self.stages == 1 and second_only and not self.first_stage:
            ignored, why = second_only, "it sets how a second stage reads the first, and this run trains one stage"
        if self.task == "documents" and self.max_train is not None:
            ignored, why = ["--max-train"], "documents train on --pages, not on a number of images"
        if str(self.dataset).startswith("toy:") and self.data_dir is not None:
            ignored, why = ["--data-dir"], "a toy data set is drawn, not read from a folder"
        if ignored:
            raise ValueError(f"{', '.join(ignored)} would be ignored here ({why}). Fix: drop "
                             f"{'it' if len(ignored) == 1 else 'them'}, or choose the data set or optimizer meant.")
        try:
            learning_rate(1.0, 0, self.epochs, self.lr_schedule)  # a schedule that cannot work is refused now
        except ValueError as err:
            raise ValueError(f"{err} Fix: --lr-schedule cosine.") from None


@dataclass
class TrainResult:
    """What :func:`train` returns: the model and loss (the best ones, read back from model.npz, or the
    live ones of an interrupted run), the history (one record per epoch), the run folder, why training
    stopped, and the files written (name -> path)."""

    model: Autoencoder
    loss: object
    history: list
    out: Path
    stopped: str  # "finished", "early stopping", "time budget", "interrupted"
    files: dict = field(default_factory=dict)
    signal: int | None = None  # the signal that interrupted it (SIGINT, SIGTERM), if one did


RESUME_MAY_CHANGE = {"out", "epochs", "max_seconds", "quiet", "backend", "figures"}


class TrainingDiverged(RuntimeError):
    """The loss became NaN or inf."""


def new_run_dir(root: str | Path = "runs") -> Path:
    """A new run folder's path under ``root``, named by the date and time (20250131-142500, then -2, -3,
    ... if taken); nothing is created here."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path, i = Path(root) / stamp, 1
    while path.exists():
        i += 1
        path = Path(root) / f"{stamp}-{i}"
    return path


class _StopFlag:
    """Turns Ctrl-C (SIGINT), a polite kill (SIGTERM, as sent by ``kill`` or a job
    scheduler) and a closed terminal (SIGHUP) into a flag the loop checks between steps, so a
    step is never cut in half (an optimizer stopped mid-update would leave some
    parameters stepped and others not) and the state is saved for --resume."""

    SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

    def __init__(self):
        self.requested, self.signum = False, None
        self._old = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._old = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        return self

    def _handle(self, signum, frame):
        if self.requested:  # a second signal: the user means it
            raise KeyboardInterrupt
        self.requested, self.signum = True, signum

    def request(self):
        """Stop after the current step, as Ctrl-C does."""
        self.requested = True

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _rng_state(rng):
    """A generator's state as JSON-able data (NumPy); None where it cannot be saved (CuPy)."""
    return rng.bit_generator.state if isinstance(rng, np.random.Generator) else None


MAX_POINTS = 10_000_000  # toy data sets: more points than this would not fit a class's machines


def check_targets(cfg: TrainConfig, data: TaskData) -> None:
    """Refuse a loss or output that cannot reach the targets: a silent wrong answer otherwise."""
    lo, hi = float(data.targets.min()), float(data.targets.max())
    if lo >= 0 and hi <= 1:
        return
    if str(cfg.loss).startswith("bernoulli"):
        raise ValueError(f"the Bernoulli loss needs targets in [0, 1] (probabilities of a pixel being on), and these "
                         f"range from {lo:.3g} to {hi:.3g}. Fix: use --loss gaussian:0.1, or scale the data to [0, 1].")
    if (cfg.output_activation or ("identity" if str(cfg.loss).startswith("bernoulli") else "sigmoid")) == "sigmoid":
        raise ValueError(f"a sigmoid output lies in (0, 1), and the targets range from {lo:.3g} to {hi:.3g}. "
                         "Fix: --output-activation identity, or scale the data to [0, 1].")


SMALL_VALIDATION = 1 << 24  # bytes: a validation set this small keeps its fixed corruption (16 MB)
VAL_BATCH = 256  # validation rows a batch: small batches, a low peak memory


def train_step(model: Autoencoder, loss: Any, opt: Any, corrupt: Any, X: Array, X_in: Array, idx: Array,
               rng: Any, params: dict[str, Array]) -> tuple[float, Array, dict[str, Array]]:
    """One step of minibatch training on the examples ``idx``: gather, corrupt, forward, loss,
    backward, update. Returns ``(value, x, out)``: the batch loss (L1) as a host float, the
    clean batch and the model's output. When the loss is not finite, no update is made: the
    caller decides what to say.

    ``X`` holds the clean targets and ``X_in`` the inputs before corruption (the same array for
    digits; a document model reads context features and predicts a smaller patch).
    """
    x = X[idx]  # B,D the clean targets
    x_tilde = corrupt(X_in[idx], rng)  # B,D fresh noise  (C1)-(C4); for digits X_in is X
    out, cache = model.forward(x_tilde)  # forward through E and Dec
    value, loss_cache = loss.forward(out, x)  # (L1)
    v = float(value)  # note: a CPU-GPU sync point on CuPy
    if math.isfinite(v):
        d_out, loss_grads = loss.backward(loss_cache)
        _, grads = model.backward(d_out, cache, need_input_grad=False)  # backprop (D2)-(D4)
        grads.update({f"loss.{k}": g for k, g in loss_grads.items()})
        opt.step(params, grads)  # (O1)-(O6), (O10), in place
    return v, x, out


def _loss_spec(loss: Any) -> str:
    """A loss object as the spec string that rebuilds it (``gaussian:0.1``)."""
    config = dict(loss.config())
    name = config.pop("name")
    args = [v for k, v in config.items() if k in ("sigma", "init_sigma", "beta")]
    if set(config) - {"sigma", "init_sigma", "beta"} - ({"min_sigma"} if config.get("min_sigma") == 1e-3 else set()):
        raise ValueError(f"the loss {loss!r} has settings a spec string cannot carry. Fix: pass loss='{name}:...'.")
    return f"{name}:{args[0]:g}" if args else name


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


def bits_per_dim(nll: float, D: int, loss: Loss) -> float | None:
    """A per-example NLL in nats as bits per value (pixel), on the data's own scale ([0, 1] for images:
    add log2(256) = 8 for the 0-255 scale of the literature); None for a loss that is not a likelihood."""
    return None if loss.name == "mse" else nll / (D * math.log(2))


def load_task_data(cfg: TrainConfig, inputs: np.ndarray | None, val_inputs: Array | None,
                   log: Callable[[str], None]) -> TaskData:
    """The rows to train on: a user's array, toy points, documents, or images."""
    if inputs is not None:
        return array_data(cfg, inputs, val_inputs)
    if val_inputs is not None:
        raise ValueError("val_inputs was given without inputs. Fix: train(inputs=X, val_inputs=X_val).")
    if cfg.dataset == "array":
        raise ValueError("this run trained on an array given to train(inputs=...), which is not saved with it. "
                         "Fix: pass the same array again: train(out=..., resume=True, inputs=X).")
    if cfg.task == "documents":
        from .documents.training import document_data
        return document_data(cfg, log)
    if str(cfg.dataset).startswith("toy:"):
        return toy_data(cfg)
    return image_data(cfg, log)


def train(config: TrainConfig | None = None, *, inputs: Array | None = None, val_inputs: Array | None = None,
          on_step: Callable[[int, int, SimpleNamespace], None] | None = None, **overrides: Any) -> TrainResult:
    """Train a DAE; the Python face of ``scratchdae train``.

    Parameters
    ----------
    config : TrainConfig, optional
        Settings; keyword arguments override single fields
        (``train(epochs=5, hidden=(512,))``).
    inputs : float32 array (N, D), optional
        Train on these rows instead of a named data set: the DAE corrupts
        them and learns to give them back. A seeded ``val_fraction`` of them
        is held out for validation, unless ``val_inputs`` is given. With
        D <= 16 columns the low-dimensional defaults apply (task "points").
        The model file records the array's shape and SHA-256; a resumed run
        needs the same array again.
    on_step : callable, optional
        Called as ``on_step(epoch, step, run)`` after every step (``step``
        counts from 1); ``run.model``, ``run.loss`` and ``run.optimizer`` are
        the live objects, ``run.value``, ``run.x`` and ``run.output`` the
        step's loss, clean batch and model output, and ``run.stop()`` ends
        training as Ctrl-C would.
    resume : bool
        Continue the run in ``out`` from its checkpoint.npz.

    Returns
    -------
    TrainResult
    """
    resume = overrides.pop("resume", False)
    if overrides.get("first_stage") is not None and str(overrides["first_stage"]).strip():
        # a model you give is saved as an absolute path, so the run resumes from any working folder
        overrides["first_stage"] = os.path.abspath(os.fspath(overrides["first_stage"]))
    if inputs is not None:
        inputs = check_inputs(inputs)
        clash = sorted(k for k in ("dataset", "data_dir", "max_train", "n_points") if overrides.get(k) is not None
                       and not (k == "dataset" and overrides[k] == "array"))
        if clash:
            raise ValueError(f"train(inputs=X) trains on X, and {', '.join(clash)} chooses other data. Fix: drop "
                             f"{', '.join(clash)}, or drop inputs to train on a named data set.")
    if inputs is not None and not resume:
        overrides["dataset"] = "array"
        overrides.setdefault("task", task_of("array", inputs))
        if overrides.get("output_activation") is None and overrides["task"] == "images" and not (
                inputs.min() >= 0 and inputs.max() <= 1):
            overrides["output_activation"] = "identity"  # a sigmoid output cannot reach values outside [0, 1]
    if resume and config is not None:
        raise ValueError("resume continues the saved run with its own settings; a config was given too. Fix: drop "
                         "it, or start a new run in another --out folder.")
    generation = sorted(k for k in ("pages", "fonts", "backgrounds", "system_fonts", "variety") if overrides.get(k))
    if not resume and overrides.get("data_dir") and generation and overrides.get("dataset") in ("documents", None):
        raise ValueError(f"{', '.join('--' + k.replace('_', '-') for k in generation)} would be ignored: they "
                         "choose generated pages, and --data-dir trains on the pages of that folder. Fix: drop one "
                         "or the other.")
    if config is not None and not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}. Fix: train(**settings) for a "
                        "dict of settings, or train(TrainConfig(...)).")
    if hasattr(overrides.get("noise"), "spec"):  # a corruption object: its spec is what the run saves
        overrides["noise"] = overrides["noise"].spec()
    if hasattr(overrides.get("loss"), "config"):  # a loss object, likewise
        overrides["loss"] = _loss_spec(overrides["loss"])
    if "optimizer" in overrides and not isinstance(overrides["optimizer"], str):
        raise TypeError(f"optimizer must be a name (adam or sgd), got {type(overrides['optimizer']).__name__}. "
                        "Fix: train(optimizer='adam', lr=1e-3).")
    if resume:  # the saved run's settings judge the others, once read (a documents option is no error here)
        unknown = sorted(set(overrides) - set(TrainConfig.__dataclass_fields__))
        if unknown:
            raise TypeError(f"train() got unknown settings {', '.join(unknown)}. Fix: see TrainConfig.")
        cfg = TrainConfig(**{k: overrides[k] for k in ("out", "quiet") if k in overrides})
    else:
        cfg = TrainConfig(**{**(asdict(config) if config else {}), **overrides})
    if resume and not cfg.out:
        raise ValueError("resume continues the run in a folder: say which. Fix: --resume --out runs/NAME.")
    out = check_folder(cfg.out) if cfg.out else new_run_dir()
    cfg.out = str(out)
    state_path, model_path = out / "checkpoint.npz", out / "model.npz"
    log = (lambda *a: None) if cfg.quiet else print
    first_out = out / FIRST_STAGE_FOLDER
    if (cfg.task == "documents" and cfg.stages == 2 and not cfg.first_stage and not resume) or (
            resume and not os.path.lexists(state_path) and (first_out / "checkpoint.npz").exists()):
        return _train_stacked(cfg, out, resume, overrides, on_step, log)

    state = None
    if resume:
        if not os.path.lexists(state_path):
            where = f"{out} holds no checkpoint.npz" if out.is_dir() else f"the folder {out} does not exist"
            raise ValueError(f"there is nothing to resume: {where} (a run writes it at the end of its first epoch, "
                             "or when stopped). Fix: check --out, or drop --resume to start a new run.")
        try:
            arrays, state = load_npz(state_path, kind="training-state")
        except CheckpointError as err:  # the reason, with the fix that fits a resume
            raise CheckpointError(f"{str(err).split(' Fix:')[0]} Fix: restore an intact copy of checkpoint.npz, or "
                                  "start a new run in another --out folder (model.npz keeps the best weights so "
                                  "far).") from None
        updates = {}  # saved settings read in today's terms
        if state["config"].get("first_stage") == str(Path(str(state["config"].get("out"))) / FIRST_STAGE_FOLDER /
                                                     "model.npz"):  # --stages 2: the first stage moves with OUT
            updates["first_stage"] = str(out / FIRST_STAGE_FOLDER / "model.npz")
        updates.update(_as_saved_then(state["config"]))
        try:
            saved = TrainConfig(**{**state["config"], **updates, "out": str(out)})
        except (TypeError, ValueError) as err:
            raise CheckpointError(f"{state_path}: its saved settings are not valid ({err}). The file is damaged or "
                                  "from another version. Fix: start a new run in another --out folder.") from None
        if state["history"]:  # the best weights so far live only in model.npz: it must be there and whole
            try:
                if not model_path.is_file():
                    raise CheckpointError("it is missing")
                kept = load_model(model_path)[2].get("data", {})
                if kept.get("sha256") != state["data"]["sha256"]:
                    raise CheckpointError("it was trained on other data: another run's model")
            except (CheckpointError, OSError) as err:
                why = str(err).split(" Fix:")[0]
                raise CheckpointError(f"{model_path}, the best model of this run so far, cannot be read ({why}); "
                                      "resuming would lose it for good. Fix: restore it from a copy, or start a new "
                                      "run in another --out folder.") from None
        if overrides.get("epochs") == state["epoch"]:
            log(f"{out} has already trained {state['epoch']} epochs: nothing to do (--epochs N with N larger trains "
                "further)")
        if overrides.get("epochs") is not None and overrides["epochs"] < state["epoch"]:
            raise ValueError(f"--epochs {overrides['epochs']} asks for fewer epochs than the {state['epoch']} this run "
                             f"has done. Fix: --epochs {state['epoch'] + 1} or more to train further.")
        try:
            cfg = TrainConfig(**{**asdict(saved), **overrides, "out": str(out)})
            changed = sorted(k for k in overrides
                             if k not in RESUME_MAY_CHANGE and getattr(cfg, k) != getattr(saved, k))
        except (TypeError, ValueError):  # the new settings do not even fit together with the saved ones
            changed = sorted(k for k in overrides if k not in RESUME_MAY_CHANGE and overrides[k] != getattr(saved, k))
            if not changed:
                raise
        if changed:  # the same values again are fine: the command that started the run, with --resume added
            raise ValueError(_changed_on_resume(changed, saved))
        log(f"resuming {out} at epoch {state['epoch'] + 1}, step {state['step']}")
    elif state_path.exists():
        raise ValueError(f"{out} already holds a training run (checkpoint.npz). Fix: pass --resume to continue it, "
                         "or choose another --out folder.")
    elif model_path.exists():
        raise ValueError(f"{out} already holds a model (model.npz) that a new run would replace. Fix: choose another "
                         "--out folder, or move that model away first.")

    be = get_backend(cfg.backend)
    dtype = np.dtype("float32")
    keep_freed_host_memory()  # speed: no page faults for the arrays of every step

    # -- data --------------------------------------------------------------------
    data = load_task_data(cfg, inputs, val_inputs, log)
    data_record = {"name": data.name, "source": data.source, **data.fingerprint()}
    if state is not None and state.get("data", {}).get("sha256", data_record["sha256"]) != data_record["sha256"]:
        raise ValueError(f"the training data differ from those the run in {out} started on (it saw "
                         f"{state['data']['n_train']:,} training rows with SHA-256 {state['data']['sha256'][:12]}..., "
                         f"now {data_record['n_train']:,} rows with {data_record['sha256'][:12]}...). Resuming would "
                         "train on other data. Fix: restore the original data, or start a new run in another --out.")
    check_targets(cfg, data)
    X_in, X_val_in = be.asarray(data.inputs), be.asarray(data.val_inputs)  # on the device, copied once
    same = data.targets is data.inputs  # digits: the targets are the inputs, before corruption
    X = X_in if same else be.asarray(data.targets)
    X_val = X_val_in if same else be.asarray(data.val_targets)
    n = len(X)

    # -- model, loss, corruption, optimizer ------------------------------------
    loss = get_loss(cfg.loss, backend=be, dtype=dtype)
    out_act = cfg.output_activation or loss.output_activation or "sigmoid"
    model = Autoencoder(X_in.shape[1], cfg.hidden, decoder_hidden=cfg.decoder_hidden, n_out=X.shape[1],
                        activation=cfg.activation,
                        output_activation=out_act, tied=cfg.tied, variance_head=loss.needs_variance_head,
                        seed=cfg.seed, backend=be, dtype=dtype)
    corrupt = get_corruption(cfg.noise)
    opt_kw = dict(lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
        opt_kw.update(momentum=cfg.momentum, nesterov=cfg.nesterov)
    opt = get_optimizer(cfg.optimizer, **opt_kw)
    if state is not None:
        model, loss = restore_model(arrays, state, be)  # the saved weights replace the fresh ones
    params = {**model.parameters(), **{f"loss.{k}": v for k, v in loss.params.items()}}

    shuffle_rng = np.random.default_rng([cfg.seed, 2])  # host: the order of the examples
    noise_rng = be.rng(cfg.seed + 3)  # device: the corruption of training batches
    def x_val_tilde(i, j):
        """Rows i:j of one fixed corruption of the validation set, drawn a batch at a time as they are needed:
        the generator is made afresh for the first batch, so every epoch sees the same numbers."""
        nonlocal val_rng
        if i == 0:
            val_rng = be.rng(cfg.seed + 4)
        return corrupt(X_val_in[i:j], val_rng)

    val_rng = None
    if X_val_in.nbytes <= SMALL_VALIDATION:  # speed: a small set's corruption is drawn once and kept (the same numbers)
        x_val_tilde = be.xp.concatenate([x_val_tilde(i, i + VAL_BATCH) for i in range(0, len(X_val_in), VAL_BATCH)])

    history, epoch, step, perm = [], 0, 0, None
    best = {"val_loss": math.inf, "epoch": -1, "bad_epochs": 0}
    run_sum, run_count = 0.0, 0
    if state is not None:
        check_optimizer_state(arrays, params, opt, state["optimizer_t"], state_path)
        try:
            opt.load_state_arrays({k[4:]: v for k, v in arrays.items() if k.startswith("opt/")}, params,
                                  state["optimizer_t"])
            shuffle_rng.bit_generator.state = state["rng"]["shuffle"]
            if state["rng"]["noise"] is not None and be.name == "numpy":
                noise_rng.bit_generator.state = state["rng"]["noise"]
            else:  # CuPy's generator state cannot be saved: a fresh stream, seeded by where we resume
                noise_rng = be.rng(cfg.seed + 3 + 1_000_003 * (state["epoch"] + 1) + state["step"])
        except (ValueError, TypeError, KeyError, OverflowError) as err:
            raise CheckpointError(f"{state_path}: its optimizer or random-generator state is damaged ({err}). "
                                  "Fix: start a new run, or restore an intact copy of the checkpoint.") from None
        history, epoch, step, best = state["history"], state["epoch"], state["step"], state["best"]
        run_sum, run_count = state["running"]
        perm = check_resume_order(arrays.get("perm"), step, n, cfg.batch_size, state_path) if step else None

    def write_state(epoch, step, perm):
        """checkpoint.npz: everything needed to continue exactly from here."""
        arrays = {**model_arrays(model, loss), **{f"opt/{k}": v for k, v in opt.state_arrays().items()}}
        if perm is not None:
            arrays["perm"] = perm
        header = model_header(model, loss, corrupt, dataset=data.name, data=data_record, **data.header)
        header.update(kind="training-state", config=asdict(cfg), epoch=epoch,
                      step=step, optimizer_t=opt.t, history=history, best=best, running=[run_sum, run_count],
                      rng={"shuffle": _rng_state(shuffle_rng), "noise": _rng_state(noise_rng)})
        save_npz(state_path, arrays, header)

    def write_model():
        summary = {"epochs": len(history), "best_epoch": best["epoch"] + 1, "best_val_loss": best["val_loss"],
                   "last": history[-1] if history else None}
        save_model(model_path, model, loss, corrupt, arrays=data.arrays, dataset=data.name, data=data_record,
                   history=summary, **data.header, train_config=asdict(cfg))

    log(f"{model!r}\n{len(X):,} training / {len(X_val):,} validation examples from {data.source}; "
        f"noise {corrupt.spec()}, loss {loss!r}, {cfg.optimizer} lr {cfg.lr:g}, batch {cfg.batch_size}, "
        f"backend {be.name}; writing to {out}")
    make_folder(out)
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    stopped, t_start = "finished", time.perf_counter()

    # NumPy would warn about overflow on the way to a NaN; the loop checks the loss itself and stops clearly
    with folder_lock(out), _StopFlag() as flag, np.errstate(over="ignore", invalid="ignore"):
        while epoch < cfg.epochs and stopped == "finished":
            lr = opt.lr = learning_rate(cfg.lr, epoch, cfg.epochs, cfg.lr_schedule)  # (O7)-(O9)
            if step == 0:
                perm = shuffle_rng.permutation(n)
                run_sum, run_count = 0.0, 0
            perm_dev = be.asarray(perm)
            bar = Progress(steps_per_epoch, f"epoch {epoch + 1}/{cfg.epochs}", cfg.quiet, stream=sys.stdout)
            t_epoch = time.perf_counter()
            while step < steps_per_epoch:
                idx = perm_dev[step * cfg.batch_size:(step + 1) * cfg.batch_size]
                v, x, out_ = train_step(model, loss, opt, corrupt, X, X_in, idx, noise_rng, params)
                if not math.isfinite(v):
                    kept = (f"The last good state is in {state_path} (written after epoch {epoch})."
                            if state_path.exists() else "No checkpoint was written: it diverged in the first epoch.")
                    raise TrainingDiverged(
                        f"the loss became {v} at epoch {epoch + 1}, step {step + 1}; stopped before the update. "
                        f"{kept} Fix: lower the learning rate (now {lr:g}), or use a loss with a fixed sigma.")
                run_sum, run_count, step = run_sum + v * len(x), run_count + len(x), step + 1
                bar.update(step, loss=run_sum / run_count)
                if on_step is not None:
                    on_step(epoch, step, SimpleNamespace(stop=flag.request, model=model, loss=loss, optimizer=opt,
                                                          value=v, x=x, output=out_))
                if flag.requested:
                    break
            if flag.requested:
                write_state(epoch, step, perm)
                bar.close(f"interrupted at epoch {epoch + 1}, step {step}: state saved to {state_path}; "
                          "continue with --resume")
                stopped = "interrupted"
                break
            # -- end of epoch: validate, record, checkpoint, maybe stop --------------
            val = evaluate_arrays(model, loss, X_val, x_val_tilde, batch_size=VAL_BATCH)
            const = loss.constant(X.shape[1])  # nats per example that no model can change (G2)
            record = {"epoch": epoch + 1, "lr": lr, "train_loss": run_sum / run_count, "val_loss": val["loss"],
                      "val_fit": val["loss"] - const, "loss_constant": const,
                      "val_bits_per_dim": bits_per_dim(val["loss"], X.shape[1], loss),
                      "val_mse": val["mse"], "val_psnr": val["psnr"], "seconds": time.perf_counter() - t_epoch}
            history.append(record)
            improved = val["loss"] < best["val_loss"]
            if improved:
                best = {"val_loss": val["loss"], "epoch": epoch, "bad_epochs": 0}
                write_model()
            else:
                best["bad_epochs"] += 1
            epoch, step = epoch + 1, 0
            if cfg.patience and best["bad_epochs"] >= cfg.patience:
                stopped = "early stopping"
            elif cfg.max_seconds and time.perf_counter() - t_start > cfg.max_seconds and epoch < cfg.epochs:
                stopped = "time budget"
            write_history(out / "history.jsonl", history)
            write_state(epoch, 0, None)
            split = f" (fit {record['val_fit']:.1f} {const:+.1f} constant)" if const else ""
            bar.close(f"epoch {epoch:>3}/{cfg.epochs}  train {record['train_loss']:.4f}  val {val['loss']:.4f}{split}  "
                      f"val PSNR {val['psnr']:.2f} dB  {record['seconds']:.1f}s{'  *' if improved else ''}")

    if stopped != "interrupted":
        epochs = f"{len(history)} epoch{'' if len(history) == 1 else 's'}"
        log(f"{stopped} after {epochs}; best validation loss {best['val_loss']:.4f} at epoch "
            f"{best['epoch'] + 1}; model: {model_path}")
    files = {"model": model_path, "checkpoint": state_path, "history": out / "history.jsonl"}
    # the figures draw test images, not training rows: let the rows go first (the peak memory of a run)
    X = X_in = X_val = X_val_in = data.inputs = data.targets = data.val_inputs = data.val_targets = None
    if stopped != "interrupted" and history:
        best_model, best_loss, _ = load_model(model_path, be)
        if cfg.figures:
            files.update(data.figures(out, best_model, best_loss, corrupt, history, cfg.seed))
        return TrainResult(best_model, best_loss, history, out, stopped, files)
    return TrainResult(model, loss, history, out, stopped, files, flag.signum)


def _train_stacked(cfg: TrainConfig, out: Path, resume: bool, overrides: dict[str, Any],
                   on_step: Callable | None, log: Callable[[str], None]) -> TrainResult:
    """``--stages 2``: train the first stage in OUT/first-stage, then the second stage in OUT, which reads
    the first stage's cleaned pages and writes both into OUT/model.npz. A resume picks up the first stage
    where it stopped (the second stage, once started, resumes as any run). OUT/stages.json keeps the
    settings of the whole run until the second stage's checkpoint does."""
    first_out, settings = out / FIRST_STAGE_FOLDER, out / "stages.json"
    if resume:  # the first stage was stopped: finish it, with only the changes a resume allows
        try:
            saved = json.loads(settings.read_text())
            second = TrainConfig(**{**saved, **_as_saved_then(saved), "out": str(out)})
        except (OSError, ValueError, TypeError) as err:
            raise CheckpointError(f"{settings}, the settings of this two-stage run, cannot be read ({err}). Fix: "
                                  "restore it, or start a new run in another --out folder.") from None
        changed = sorted(k for k in overrides if k not in RESUME_MAY_CHANGE and overrides[k] != getattr(second, k))
        if changed:
            raise ValueError(_changed_on_resume(changed, second))
        allowed = {k: v for k, v in overrides.items() if k in RESUME_MAY_CHANGE and k != "out"}
        second = replace(second, **allowed)
        first = train(out=first_out, resume=True, on_step=on_step, **allowed)
    else:
        if (out / "model.npz").exists() and not (out / "checkpoint.npz").exists():
            raise ValueError(f"{out} already holds a model (model.npz) that a new run would replace. Fix: choose "
                             "another --out folder, or move that model away first.")
        for name in ("checkpoint.npz", f"{FIRST_STAGE_FOLDER}/checkpoint.npz", f"{FIRST_STAGE_FOLDER}/model.npz"):
            if (out / name).exists():
                raise ValueError(f"{out} already holds {name}, of a run this one would replace. Fix: choose "
                                 "another --out folder, or --resume to continue that run.")
        _check_second_stage_data(cfg)  # before the first stage trains, not after
        made = not out.exists()
        make_folder(out)
        with atomic_write(settings, "w") as f:
            json.dump(asdict(cfg), f, indent=1)
        log(f"stage 1 of 2, in {first_out}:")
        try:
            first = train(replace(cfg, stages=1, first_view=None, keep_paper=None, out=str(first_out), figures=False),
                          on_step=on_step)
        except BaseException:  # nothing to resume yet: leave the folder as it was
            if not (first_out / "checkpoint.npz").exists():
                settings.unlink(missing_ok=True)
                for folder in (first_out, out if made else None):
                    if folder is not None and folder.is_dir() and not any(folder.iterdir()):
                        folder.rmdir()
            raise
        second = cfg
    if first.stopped == "interrupted":  # the run to resume is OUT, not its first stage's folder
        log(f"stopped in stage 1 of 2; the same command with --resume continues it, then trains stage 2 in {out}")
        return replace(first, out=out)
    log(f"stage 2 of 2, in {out}:")
    return train(replace(second, out=str(out), first_stage=str(first_out / "model.npz")), on_step=on_step)


def _as_saved_then(config: dict[str, Any]) -> dict[str, Any]:
    """The settings a run saved before they existed, at the values that reproduce it."""
    updates = {}
    if not isinstance(config, dict):  # a damaged file: the caller says so
        return updates
    if config.get("task") == "documents" and "stages" not in config:
        updates["stages"] = 1  # a run saved before documents had two stages
    if (config.get("first_stage") or config.get("stages") == 2) and "keep_paper" not in config:
        updates["keep_paper"] = 0.0  # a second stage saved before it kept the first stage's paper
    return updates


def _changed_on_resume(changed: list[str], saved: TrainConfig) -> str:
    """The refusal of a resume that would change settings a run cannot change midway."""
    return (f"resume continues the saved run with its own settings, but {', '.join(changed)} differs from the "
            f"saved {', '.join(f'{k}={getattr(saved, k)!r}' for k in changed)}. Only "
            f"{', '.join(sorted(RESUME_MAY_CHANGE))} may change on resume. Fix: drop those options, or start a new "
            "run in another --out folder.")


def _check_second_stage_data(cfg: TrainConfig) -> None:
    """What would stop the second stage, checked before the first trains: its window sizes, and on a
    folder, enough pages left once the first stage's training pages are left out (its validation pages)."""
    from .documents.training import window_spec

    window_spec(cfg)
    if cfg.data_dir is not None:
        from .documents.pages import kaggle_pairs

        n = len(kaggle_pairs(cfg.data_dir))
        left = validation_count(n, cfg.val_fraction)  # the first stage's validation pages
        if n < 4:
            raise ValueError(f"--stages 2 on {cfg.data_dir}: it has {n} pages, and two stages need at least 4 (a "
                             "training and a validation page each, on pages of their own). Fix: more pages, or "
                             "--stages 1.")
        if left < 2:
            raise ValueError(f"--stages 2 on {cfg.data_dir} ({n} pages): the second stage trains on the pages the "
                             f"first did not train on, its {left} validation page, and needs at least 2. Fix: "
                             f"--val-fraction {min(0.5, round(2.5 / n, 2))} (more pages left to "
                             "the second stage), more pages, or --first-stage MODEL with a model trained on "
                             "another folder.")


def write_history(path: str | Path, history: list[dict[str, Any]]) -> None:
    """The history as JSON lines, one epoch a line, rewritten atomically."""
    with atomic_write(path, "w") as f:
        for record in history:
            f.write(json.dumps(record) + "\n")

