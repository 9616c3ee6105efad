r"""Training a denoising autoencoder: the loop.

It reads top to bottom, as nanoGPT's train.py does:

    settle the settings, get the data
    build the model, loss, corruption and optimizer; start or resume
    for each epoch:
        learning rate from the schedule                               (O7)-(O9)
        reshuffle the training examples
        for each mini-batch x:                                        train_step
            x~ = q(x~ | x)                 fresh corruption           (C1)-(C4)
            forward, loss                  -log p(x | E(x~))          (DA1), estimated by (L1)
            backward                                                  (D2)-(D4)
            optimizer step                                            (O1)-(O6), (O10)
        validate on held-out examples (a fixed corruption, so epochs compare)
        write history, model.npz (when validation improved), checkpoint.npz
        stop early when validation stopped improving

Ctrl-C finishes the current step, writes checkpoint.npz and returns; the same
call with ``resume=True`` continues to exactly the weights an uninterrupted
run reaches (on NumPy). The machinery (settings, resume, the run folder)
lives in :mod:`scratchdae.run`; the speed-only code in :mod:`scratchdae.fast`.
"""
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from . import fast
from .backend import Array, get_backend
from .checkpoint import load_model, model_arrays, save_model
from .corruption import get_corruption
from .files import check_folder, folder_lock, make_folder
from .inference import evaluate_arrays
from .losses import Loss, get_loss
from .model import Autoencoder
from .optim import learning_rate
from .progress import Progress
from .run.config import (TrainConfig, check_callables, check_targets, diverged, output_activation, settle,
                         settle_inputs)
from .run.folder import StopFlag, check_new_run, new_run_dir, run_files, saved_together, write_history
from .run.resume import RunState, check_same_data, read_checkpoint, restore, weights_digest, write_checkpoint
from .tasks import TaskData, load_task_data


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


class TrainingDiverged(RuntimeError):
    """The loss became NaN or inf."""


def train(config: TrainConfig | None = None, *, inputs: Array | None = None, val_inputs: Array | None = None,
          data: Callable[[TrainConfig, Callable], TaskData] | None = None,
          on_step: Callable[[int, int, SimpleNamespace], None] | None = None, **overrides: Any) -> TrainResult:
    """Train a DAE; the Python face of ``scratchdae train``.

    ``config`` (a TrainConfig) and keywords give the settings (``train(epochs=5, hidden=(512,))``). ``inputs``
    (float32 (N, D)) trains on those rows, a seeded ``val_fraction`` held out unless ``val_inputs`` is given (D <=
    16: the low-dimensional defaults; a resume needs X again). ``data(cfg, log)`` gives an application's TaskData.
    ``on_step(epoch, step, run)`` is called after every step (``run.model``, ``.loss``, ``.optimizer``, ``.value``,
    ``.x``, ``.output``; ``run.stop()`` stops as Ctrl-C would). ``resume=True`` continues the run in ``out``.
    """
    resume = overrides.pop("resume", False)
    check_callables(on_step=on_step, data=data)
    inputs = settle_inputs(inputs, resume, overrides)
    cfg = settle(config, resume, overrides)
    out = check_folder(cfg.out) if cfg.out else new_run_dir()
    cfg.out = str(out)
    log = (lambda *a: None) if cfg.quiet else print
    saved = read_checkpoint(out, overrides, log) if resume else check_new_run(out, run_files(cfg))
    cfg = saved.config if saved else cfg
    be = get_backend(cfg.backend)
    fast.keep_freed_host_memory()  # speed: no page faults for the arrays of every step

    # -- data --------------------------------------------------------------------
    data = load_task_data(cfg, inputs, val_inputs, data, log)
    record = {"name": data.name, "source": data.source, **data.fingerprint()}
    check_same_data(saved, record, out)
    loss = get_loss(cfg.loss, backend=be, dtype="float32")
    check_targets(cfg, loss, data)
    X_in, X_val_in = be.asarray(data.inputs), be.asarray(data.val_inputs)  # on the device, copied once
    same = data.targets is data.inputs  # digits: the targets are the inputs, before corruption
    X, X_val = (X_in, X_val_in) if same else (be.asarray(data.targets), be.asarray(data.val_targets))

    # -- model, corruption, optimizer; start or resume --------------------------
    model = Autoencoder(X_in.shape[1], cfg.hidden, decoder_hidden=cfg.decoder_hidden, n_out=X.shape[1],
                        activation=cfg.activation, output_activation=output_activation(cfg, loss, data.targets),
                        tied=cfg.tied, variance_head=loss.needs_variance_head, seed=cfg.seed, backend=be,
                        dtype="float32")
    corrupt = get_corruption(cfg.noise)
    opt = fast.accelerate(cfg.build_optimizer())  # speed: the same numbers as the plain step
    state = RunState.start(cfg.seed, be)
    params = parameters(model, loss)
    if saved:
        model, loss, params = restore(saved, state, be, opt, parameters, len(X))
    x_val_tilde = validation_noise(corrupt, X_val_in, be, cfg.seed)

    def save(keep_order=False, improved=False):  # the best model, history and checkpoint: all, or none
        with saved_together(out):
            if improved:
                save_model(out / "model.npz", model, loss, corrupt, arrays=data.arrays, dataset=data.name,
                           data=record, history=state.summary(), **data.header, train_config=cfg.saved())
            if not keep_order:  # at an epoch's end
                write_history(out / "history.jsonl", state.history)
            write_checkpoint(out / "checkpoint.npz", cfg, state, model, loss, corrupt, opt, data, record, keep_order)

    log(f"{model!r}\n{len(X):,} training / {len(X_val):,} validation examples from {data.source}; noise "
        f"{corrupt.spec()}, loss {loss!r}, {cfg.optimizer} lr {cfg.lr:g}, batch {cfg.batch_size}, backend {be.name}; "
        f"writing to {out}")
    make_folder(out)
    stopped, t_start = "finished", time.perf_counter()
    # NumPy would warn about overflow on the way to a NaN; the loop checks the loss itself and stops clearly
    with folder_lock(out), StopFlag() as flag, np.errstate(over="ignore", invalid="ignore"):
        while state.epoch < cfg.epochs and stopped == "finished":
            lr = opt.lr = learning_rate(cfg.lr, state.epoch, cfg.epochs, cfg.lr_schedule)  # (O7)-(O9)
            bar = Progress(math.ceil(len(X) / cfg.batch_size), f"epoch {state.epoch + 1}/{cfg.epochs}", cfg.quiet,
                           stream=sys.stdout)
            t_epoch = time.perf_counter()
            run_epoch(cfg, state, model, loss, opt, corrupt, X, X_in, params, bar, flag, on_step, out)
            if flag.requested:
                save(keep_order=True)
                bar.close(f"interrupted at epoch {state.epoch + 1}, step {state.step}: state saved to "
                          f"{out / 'checkpoint.npz'}; continue with --resume")
                stopped = "interrupted"
                break
            # -- end of epoch: validate, record, checkpoint, maybe stop --------------
            improved = end_epoch(state, model, loss, X_val, x_val_tilde, lr, time.perf_counter() - t_epoch, bar,
                                 cfg.epochs)
            stopped = when_to_stop(cfg, state, time.perf_counter() - t_start)
            save(improved=improved)
    return finish(cfg, data, state, stopped, model, loss, corrupt, out, log, flag.signum)


def parameters(model: Autoencoder, loss: Loss) -> dict[str, Array]:
    """Everything the optimizer updates: the model's weights and biases and the loss's own (a learned sigma)."""
    return {**model.parameters(), **{f"loss.{k}": v for k, v in loss.params.items()}}


def run_epoch(cfg: TrainConfig, state: RunState, model: Autoencoder, loss: Loss, opt: Any, corrupt: Any, X: Array,
              X_in: Array, params: dict[str, Array], bar: Progress, flag: StopFlag, on_step: Callable | None,
              out: Path) -> None:
    """The steps of one epoch, from ``state.step`` on, until its end or a stop request."""
    n = len(X)
    if state.step == 0:
        state.perm = state.shuffle_rng.permutation(n)
        state.running = [0.0, 0]
    perm = model.backend.asarray(state.perm)
    while state.step * cfg.batch_size < n:
        idx = perm[state.step * cfg.batch_size:(state.step + 1) * cfg.batch_size]
        v, x, output = train_step(model, loss, opt, corrupt, X, X_in, idx, state.noise_rng, params)
        if not math.isfinite(v):
            largest = max(float(abs(X).max()), float(abs(X_in).max()))  # data far out of range overflow at any lr
            raise TrainingDiverged(diverged(cfg, loss, v, state.epoch, state.step, out, largest))
        state.running = [state.running[0] + v * len(x), state.running[1] + len(x)]
        state.step += 1
        bar.update(state.step, loss=state.running[0] / state.running[1])
        if on_step is not None:
            on_step(state.epoch, state.step, SimpleNamespace(stop=flag.request, model=model, loss=loss, optimizer=opt,
                                                             value=v, x=x, output=output))
        if flag.requested:
            return


def end_epoch(state: RunState, model: Autoencoder, loss: Loss, X_val: Array, x_val_tilde: Any, lr: float,
              seconds: float, bar: Progress, epochs: int) -> bool:
    """Validate, append the epoch's record to the history, update the early-stopping record; True when the
    validation loss improved."""
    val = evaluate_arrays(model, loss, X_val, x_val_tilde, batch_size=VAL_BATCH)
    D = X_val.shape[1]
    const = loss.constant(D)  # nats per example that no model can change (G2)
    record = {"epoch": state.epoch + 1, "lr": lr, "train_loss": state.running[0] / state.running[1],
              "val_loss": val["loss"], "val_fit": val["loss"] - const, "loss_constant": const,
              "val_bits_per_dim": bits_per_dim(val["loss"], D, loss), "val_mse": val["mse"], "val_psnr": val["psnr"],
              "seconds": seconds}
    state.history.append(record)
    improved = val["loss"] < state.best["val_loss"]
    if improved:  # the checkpoint records the digest of the best weights, which model.npz holds
        state.best = {"val_loss": val["loss"], "epoch": state.epoch, "bad_epochs": 0,
                      "sha256": weights_digest(model_arrays(model, loss))}
    else:
        state.best["bad_epochs"] += 1
    state.epoch, state.step = state.epoch + 1, 0
    split = f" (fit {record['val_fit']:.1f} {const:+.1f} constant)" if const else ""
    bar.close(f"epoch {state.epoch:>3}/{epochs}  train {record['train_loss']:.4f}  val {val['loss']:.4f}{split}  "
              f"val PSNR {val['psnr']:.2f} dB  {seconds:.1f}s{'  *' if improved else ''}")
    return improved


def when_to_stop(cfg: TrainConfig, state: RunState, seconds: float) -> str:
    """Why to stop after this epoch ("early stopping", "time budget"), or "finished" to go on (and at the end)."""
    if cfg.patience and state.best["bad_epochs"] >= cfg.patience:
        return "early stopping"
    if cfg.max_seconds and seconds > cfg.max_seconds and state.epoch < cfg.epochs:
        return "time budget"
    return "finished"


def finish(cfg: TrainConfig, data: TaskData, state: RunState, stopped: str, model: Autoencoder, loss: Loss,
           corrupt: Any, out: Path, log: Callable, signum: int | None) -> TrainResult:
    """Say how the run ended, draw the figures with the best model, and return what the run made."""
    if stopped != "interrupted":
        epochs = f"{len(state.history)} epoch{'' if len(state.history) == 1 else 's'}"
        log(f"{stopped} after {epochs}; best validation loss {state.best['val_loss']:.4f} at epoch "
            f"{state.best['epoch'] + 1}; model: {out / 'model.npz'}")
    files = {name: out / file for name, file in (("model", "model.npz"), ("checkpoint", "checkpoint.npz"),
                                                  ("history", "history.jsonl")) if (out / file).exists()}
    # the figures draw test images, not training rows: let the rows go first (the peak memory of a run)
    data.inputs = data.targets = data.val_inputs = data.val_targets = None
    if stopped != "interrupted" and state.history:
        best_model, best_loss, _ = load_model(out / "model.npz", model.backend)
        if cfg.figures:
            files.update(data.figures(out, best_model, best_loss, corrupt, state.history, cfg.seed))
        return TrainResult(best_model, best_loss, state.history, out, stopped, files)
    return TrainResult(model, loss, state.history, out, stopped, files, signum)


SMALL_VALIDATION = 1 << 24  # bytes: a validation set this small keeps its fixed corruption (16 MB)
VAL_BATCH = 256  # validation rows a batch: small batches, a low peak memory


def validation_noise(corrupt: Any, X_val_in: Array, be: Any, seed: int) -> Array | Callable[[int, int], Array]:
    """One fixed corruption of the validation set, so that epochs compare: the corrupted rows (a small set's,
    drawn once and kept), or a function giving rows i:j, drawn a batch at a time from a generator made afresh
    at the first batch (the same numbers every epoch)."""
    rng = None

    def rows(i, j):
        nonlocal rng
        if i == 0:
            rng = be.rng(seed + 4)
        return corrupt(X_val_in[i:j], rng)

    if X_val_in.nbytes <= SMALL_VALIDATION:  # speed: drawn once and kept (the same numbers)
        return be.xp.concatenate([rows(i, i + VAL_BATCH) for i in range(0, len(X_val_in), VAL_BATCH)])
    return rows


def bits_per_dim(nll: float, D: int, loss: Loss) -> float | None:
    """A per-example NLL in nats as bits per value (pixel), on the data's own scale ([0, 1] for images:
    add log2(256) = 8 for the 0-255 scale of the literature); None for a loss that is not a likelihood."""
    return None if loss.name == "mse" else nll / (D * math.log(2))
