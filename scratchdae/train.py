r"""Training a denoising autoencoder: the loop, checkpoints, resume.

The loop reads top to bottom, as in nanoGPT's train.py:

    for each epoch:
        learning rate from the schedule
        reshuffle the training images
        for each mini-batch x:
            x~ = q(x~ | x)                 fresh corruption          (C1)-(C3)
            forward, loss                  L = -log p(x | E(x~))     (L1)
            backward                                                 (D2)-(D4)
            optimizer step                                           (O1)-(O6)
        validate on held-out images (a fixed corruption, so epochs compare)
        write history, model.npz (when validation improved), checkpoint.npz
        stop early when validation stopped improving

Ctrl-C finishes the current step, writes checkpoint.npz and returns; the same
command with ``resume=True`` continues to exactly the weights an uninterrupted
run reaches (on NumPy: the generators' states are saved).
"""
import json
import math
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from .backend import get_backend
from .checkpoint import load_model, load_npz, model_arrays, model_header, restore_model, save_model, save_npz
from .corruption import get_corruption
from .data import load_dataset
from .files import atomic_write
from .losses import get_loss
from .metrics import psnr
from .model import Autoencoder
from .optim import get_optimizer, learning_rate
from .progress import Progress


@dataclass
class TrainConfig:
    """Every setting of a run; ``scratchdae train`` has one flag for each.

    Settings left at None take the data set's default (``TASK_DEFAULTS``):
    digits and documents want different noise, sizes and batches.
    """

    # data
    dataset: str = "mnist-sample"  # mnist-sample | mnist | fashion-mnist | documents | None for a folder (data_dir)
    data_dir: str = None
    val_fraction: float = 0.1  # held out of the training split for validation
    max_train: int = None  # use only the first N training images (quick demos)
    # documents only
    pages: int = None  # generated training pages
    windows_per_page: int = None  # training windows sampled from each page
    window: int = None  # input window size k (odd)
    patch: int = None  # the clean patch predicted around each pixel, c x c (odd)
    stride: int = None  # cleaning: windows this many pixels apart; each pixel averages the patches covering it
    fonts: str = None  # font families of generated pages, comma-separated (default: all)
    backgrounds: str = None  # background families of generated pages, comma-separated (default: all)
    # the DAE
    noise: str = None
    loss: str = "gaussian:0.1"  # Gaussian NLL, sigma 0.1 fixed: about the residual spread of a trained model
    hidden: tuple = None
    activation: str = "relu"
    output_activation: str = None  # default: identity for bernoulli (logits), else sigmoid
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

    @property
    def task(self):
        return "documents" if self.dataset == "documents" else "images"

    def __post_init__(self):
        for k, v in TASK_DEFAULTS[self.task].items():
            if getattr(self, k) is None:
                setattr(self, k, v)
        if isinstance(self.hidden, int):
            self.hidden = (self.hidden,)
        self.hidden = tuple(self.hidden)
        for name in ("batch_size", "epochs"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}.")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction!r}. Fix: e.g. 0.1.")
        if not isinstance(self.patience, int) or self.patience < 0:
            raise ValueError(f"patience must be an integer >= 0 (0 turns early stopping off), got {self.patience!r}.")
        if self.max_train is not None and self.max_train < 2:
            raise ValueError(f"max_train must be at least 2, got {self.max_train!r}.")


TASK_DEFAULTS = {
    "images": dict(noise="gaussian:0.5", hidden=(1000,), batch_size=64, epochs=30, lr=1e-3, lr_schedule="constant",
                   patience=5),
    # the dirt on a page is the corruption: no added noise; windows are small, so batches are large
    # chosen on held-out fonts and paper (docs/documents.md): the cosine schedule runs its full course
    "documents": dict(noise="none", hidden=(512, 256), batch_size=256, epochs=30, lr=2e-3, lr_schedule="cosine",
                      patience=0, pages=96, windows_per_page=5000, window=9, patch=5, stride=2),
}


@dataclass
class TaskData:
    """What a data set gives the training loop: inputs and targets (host float32 rows)
    for training and validation, the model-header entries that describe the
    task, and the figures drawn at the end. For digits inputs and targets are
    the same images (the corruption makes the inputs noisy on the fly); for
    documents the inputs are noisy windows and the targets clean patches."""

    name: str
    source: str
    inputs: np.ndarray
    targets: np.ndarray
    val_inputs: np.ndarray
    val_targets: np.ndarray
    header: dict
    figures: object  # figures(out, model, loss, corrupt, history, seed) -> {name: path}


def image_data(cfg, log):
    """The digits (or any IDX images), split into training and validation rows."""
    data = load_dataset(cfg.dataset, cfg.data_dir, log=log)
    images = data.train_images[: cfg.max_train] if cfg.max_train else data.train_images
    tr_idx, va_idx = split_train_val(len(images), cfg.val_fraction, cfg.seed)
    X, X_val = prepare_images(images[tr_idx]), prepare_images(images[va_idx])

    def figures(out, model, loss, corrupt, history, seed):
        from .figures import training_figures
        return training_figures(out, model, loss, corrupt, data, history, seed)

    header = {"task": "images", "normalisation": {"scale": 255.0, "image_shape": list(data.image_shape)}}
    return TaskData(data.name, data.source, X, X, X_val, X_val, header, figures)


@dataclass
class TrainResult:
    model: Autoencoder
    loss: object
    history: list
    out: Path
    stopped: str  # "finished", "early stopping", "time budget", "interrupted"
    files: dict = field(default_factory=dict)


RESUME_MAY_CHANGE = {"out", "epochs", "max_seconds", "quiet", "backend", "figures"}


class TrainingDiverged(RuntimeError):
    """The loss became NaN or inf."""


def prepare_images(images, dtype="float32"):
    """uint8 images (N, H, W) -> float rows (N, H*W) in [0, 1]. The normalisation is saved with the model."""
    images = np.asarray(images)
    return (images.reshape(len(images), -1) / 255.0).astype(dtype)


def split_train_val(n, val_fraction, seed):
    """A fixed, seeded split of n training indices into (train, validation)."""
    order = np.random.default_rng([seed, 1]).permutation(n)
    n_val = max(1, int(round(n * val_fraction)))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def new_run_dir(root="runs"):
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path, i = Path(root) / stamp, 1
    while path.exists():
        i += 1
        path = Path(root) / f"{stamp}-{i}"
    return path


def reconstruct(model, loss, x_tilde, batch_size=1000):
    """The model's predicted mean for every row, in batches (no caches kept)."""
    xp = model.backend.xp
    parts = [loss.reconstruction(model.forward(x_tilde[i:i + batch_size])[0]) for i in range(0, len(x_tilde), batch_size)]
    return xp.concatenate(parts) if parts else x_tilde[:0]


def evaluate_arrays(model, loss, x, x_tilde, batch_size=1000):
    """Mean loss and PSNR of the reconstruction of x~ against x (host floats; syncs)."""
    total, sse = 0.0, 0.0
    for i in range(0, len(x), batch_size):
        out = model.forward(x_tilde[i:i + batch_size])[0]
        xb = x[i:i + batch_size]
        total += float(loss.forward(out, xb)[0]) * len(xb)
        d = loss.reconstruction(out) - xb
        sse += float((d * d).sum())
    mse = sse / x.size
    return {"loss": total / len(x), "mse": mse, "psnr": psnr(mse)}


class _StopFlag:
    """Turns Ctrl-C (SIGINT) into a flag the loop checks between steps, so a
    step is never cut in half (an optimizer stopped mid-update would leave
    some parameters stepped and others not)."""

    def __init__(self):
        self.requested = False
        self._old = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:  # a second Ctrl-C: the user means it
            raise KeyboardInterrupt
        self.requested = True

    def request(self):
        """Stop after the current step, as Ctrl-C does."""
        self.requested = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def _rng_state(rng):
    """A generator's state as JSON-able data (NumPy); None where it cannot be saved (CuPy)."""
    return rng.bit_generator.state if isinstance(rng, np.random.Generator) else None


def train(config=None, *, on_step=None, **overrides):
    """Train a DAE; the Python face of ``scratchdae train``.

    Parameters
    ----------
    config : TrainConfig, optional
        Settings; keyword arguments override single fields
        (``train(epochs=5, hidden=(512,))``).
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
    if resume and (config is not None or set(overrides) - RESUME_MAY_CHANGE):
        changed = sorted(set(overrides) - RESUME_MAY_CHANGE) or ["config"]
        raise ValueError(f"resume continues the saved run with its own settings, but {', '.join(changed)} was "
                         f"given too. Only {', '.join(sorted(RESUME_MAY_CHANGE))} may change on resume. Fix: drop "
                         "those options, or start a new run in another --out folder.")
    cfg = TrainConfig(**{**(asdict(config) if config else {}), **overrides})
    out = Path(cfg.out) if cfg.out else new_run_dir()
    cfg.out = str(out)
    state_path, model_path = out / "checkpoint.npz", out / "model.npz"
    log = (lambda *a: None) if cfg.quiet else print

    state = None
    if resume:
        arrays, state = load_npz(state_path, kind="training-state")
        cfg = TrainConfig(**{**state["config"], **overrides, "out": str(out)})
        log(f"resuming {out} at epoch {state['epoch'] + 1}, step {state['step']}")
    elif state_path.exists():
        raise ValueError(f"{out} already holds a training run (checkpoint.npz). Fix: pass --resume to continue it, "
                         "or choose another --out folder.")

    be = get_backend(cfg.backend)
    dtype = np.dtype("float32")

    # -- data --------------------------------------------------------------------
    if cfg.task == "documents":
        from .documents.training import document_data
        data = document_data(cfg, log)
    else:
        data = image_data(cfg, log)
    X_in, X_val_in = be.asarray(data.inputs), be.asarray(data.val_inputs)  # on the device, copied once
    same = data.targets is data.inputs  # digits: the targets are the inputs, before corruption
    X = X_in if same else be.asarray(data.targets)
    X_val = X_val_in if same else be.asarray(data.val_targets)
    n = len(X)

    # -- model, loss, corruption, optimizer ------------------------------------
    loss = get_loss(cfg.loss, backend=be, dtype=dtype)
    out_act = cfg.output_activation or loss.output_activation or "sigmoid"
    model = Autoencoder(X_in.shape[1], cfg.hidden, n_out=X.shape[1], activation=cfg.activation,
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
    x_val_tilde = corrupt(X_val_in, be.rng(cfg.seed + 4))  # one fixed corruption of the validation set

    history, epoch, step, perm = [], 0, 0, None
    best = {"val_loss": math.inf, "epoch": -1, "bad_epochs": 0}
    run_sum, run_count = 0.0, 0
    if state is not None:
        opt.load_state_arrays({k[4:]: v for k, v in arrays.items() if k.startswith("opt/")}, params,
                              state["optimizer_t"])
        shuffle_rng.bit_generator.state = state["rng"]["shuffle"]
        if state["rng"]["noise"] is not None and be.name == "numpy":
            noise_rng.bit_generator.state = state["rng"]["noise"]
        else:  # CuPy's generator state cannot be saved: a fresh stream, seeded by where we resume
            noise_rng = be.rng(cfg.seed + 3 + 1_000_003 * (state["epoch"] + 1) + state["step"])
        history, epoch, step, best = state["history"], state["epoch"], state["step"], state["best"]
        run_sum, run_count = state["running"]
        perm = arrays["perm"] if step else None

    def write_state(epoch, step, perm):
        """checkpoint.npz: everything needed to continue exactly from here."""
        arrays = {**model_arrays(model, loss), **{f"opt/{k}": v for k, v in opt.state_arrays().items()}}
        if perm is not None:
            arrays["perm"] = perm
        header = model_header(model, loss, corrupt, dataset=data.name, **data.header)
        header.update(kind="training-state", config=asdict(cfg), epoch=epoch,
                      step=step, optimizer_t=opt.t, history=history, best=best, running=[run_sum, run_count],
                      rng={"shuffle": _rng_state(shuffle_rng), "noise": _rng_state(noise_rng)})
        save_npz(state_path, arrays, header)

    def write_model():
        summary = {"epochs": len(history), "best_epoch": best["epoch"] + 1, "best_val_loss": best["val_loss"],
                   "last": history[-1] if history else None}
        save_model(model_path, model, loss, corrupt, dataset=data.name, history=summary, **data.header,
                   train_config=asdict(cfg))

    log(f"{model!r}\n{len(X):,} training / {len(X_val):,} validation examples from {data.source}; "
        f"noise {corrupt.spec()}, loss {loss!r}, {cfg.optimizer} lr {cfg.lr:g}, batch {cfg.batch_size}, "
        f"backend {be.name}; writing to {out}")
    out.mkdir(parents=True, exist_ok=True)
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    stopped, t_start = "finished", time.perf_counter()

    # NumPy would warn about overflow on the way to a NaN; the loop checks the loss itself and stops clearly
    with _StopFlag() as flag, np.errstate(over="ignore", invalid="ignore"):
        while epoch < cfg.epochs and stopped == "finished":
            lr = opt.lr = learning_rate(cfg.lr, epoch, cfg.epochs, cfg.lr_schedule)
            if step == 0:
                perm = shuffle_rng.permutation(n)
                run_sum, run_count = 0.0, 0
            perm_dev = be.asarray(perm)
            bar = Progress(steps_per_epoch, f"epoch {epoch + 1}/{cfg.epochs}", cfg.quiet)
            t_epoch = time.perf_counter()
            while step < steps_per_epoch:
                idx = perm_dev[step * cfg.batch_size:(step + 1) * cfg.batch_size]
                x = X[idx]  # B,D the clean targets
                x_tilde = corrupt(X_in[idx], noise_rng)  # B,D fresh noise  (C1)-(C3); for digits X_in is X
                out_, cache = model.forward(x_tilde)  # forward through E and D
                value, loss_cache = loss.forward(out_, x)  # (L1)
                v = float(value)  # note: a CPU-GPU sync point on CuPy
                if not math.isfinite(v):
                    raise TrainingDiverged(
                        f"the loss became {v} at epoch {epoch + 1}, step {step + 1}; stopped before the update. "
                        f"The last good state is in {state_path} (written after epoch {epoch}). Fix: lower the "
                        f"learning rate (now {lr:g}), or use a loss with a fixed sigma.")
                d_out, loss_grads = loss.backward(loss_cache)
                _, grads = model.backward(d_out, cache, need_input_grad=False)  # backprop (D2)-(D4)
                grads.update({f"loss.{k}": g for k, g in loss_grads.items()})
                opt.step(params, grads)  # (O1)-(O6), in place
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
            val = evaluate_arrays(model, loss, X_val, x_val_tilde)
            record = {"epoch": epoch + 1, "lr": lr, "train_loss": run_sum / run_count, "val_loss": val["loss"],
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
            bar.close(f"epoch {epoch:>3}/{cfg.epochs}  train {record['train_loss']:.4f}  val {val['loss']:.4f}  "
                      f"val PSNR {val['psnr']:.2f} dB  {record['seconds']:.1f}s{'  *' if improved else ''}")

    if stopped != "interrupted":
        log(f"{stopped} after {len(history)} epochs; best validation loss {best['val_loss']:.4f} at epoch "
            f"{best['epoch'] + 1}; model: {model_path}")
    files = {"model": model_path, "checkpoint": state_path, "history": out / "history.jsonl"}
    if stopped != "interrupted" and history:
        best_model, best_loss, _ = load_model(model_path, be)
        if cfg.figures:
            files.update(data.figures(out, best_model, best_loss, corrupt, history, cfg.seed))
        return TrainResult(best_model, best_loss, history, out, stopped, files)
    return TrainResult(model, loss, history, out, stopped, files)


def write_history(path, history):
    """The history as JSON lines, one epoch a line, rewritten atomically."""
    with atomic_write(path, "w") as f:
        for record in history:
            f.write(json.dumps(record) + "\n")

