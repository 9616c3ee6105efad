r"""The run folder: its name, what a new run must not replace, the history file, and Ctrl-C.

A run writes into one folder (``--out``, or a new one under ``runs/``):
``model.npz`` (the best model so far), ``checkpoint.npz`` (the state to
resume from), ``history.jsonl`` (one line an epoch) and its figures. The
folder is locked while a run writes into it (:func:`scratchdae.files.folder_lock`),
and the files of an epoch are written all or none (:func:`saved_together`).
"""
import contextlib
import errno
import json
import os
import signal
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from ..files import all_or_none, atomic_write


def new_run_dir(root: str | Path = "runs") -> Path:
    """A new run folder's path under ``root``, named by the date and time (20250131-142500, then -2, -3,
    ... if taken); nothing is created here."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path, i = Path(root) / stamp, 1
    while path.exists():
        i += 1
        path = Path(root) / f"{stamp}-{i}"
    return path


def check_new_run(out: Path, writes: tuple[str, ...] = ()) -> None:
    """A new run must not replace another run's state or model, nor a file already in ``out`` that it writes
    (``writes``, names relative to ``out``: its history and figures, see :func:`run_files`)."""
    if (out / "checkpoint.npz").exists():
        raise ValueError(f"{out} already holds a training run (checkpoint.npz). Fix: pass --resume to continue it, "
                         "or choose another --out folder.")
    if (out / "model.npz").exists():
        raise ValueError(f"{out} already holds a model (model.npz) that a new run would replace. Fix: choose another "
                         "--out folder, or move that model away first.")
    taken = [name for name in writes if os.path.lexists(out / name)]
    if taken:
        them = "that file" if len(taken) == 1 else "those files"
        raise ValueError(f"--out {out} already holds {', '.join(taken)}, which a new run writes: it would replace "
                         f"{them}. Fix: choose another --out folder, or move {them} away first.")


def run_files(cfg: Any) -> tuple[str, ...]:
    """The files a new run with settings ``cfg`` writes in its folder besides model.npz and checkpoint.npz: its
    history, and its task's figures unless it draws none."""
    from ..tasks import TASK_FIGURES

    return ("history.jsonl", *(TASK_FIGURES.get(cfg.task, ()) if cfg.figures else ()))


def write_history(path: str | Path, history: list[dict[str, Any]]) -> None:
    """The history as JSON lines, one epoch a line, rewritten atomically."""
    with atomic_write(path, "w") as f:
        for record in history:
            f.write(json.dumps(record) + "\n")


@contextlib.contextmanager
def saved_together(out: Path) -> Iterator[None]:
    """The run's files written inside it (model.npz, history.jsonl, checkpoint.npz) move into ``out`` together at
    its end, or none does: a failed write (a full disk) leaves the folder as its last checkpoint left it, resumable,
    or, before the first, without a file of the run, so the same command starts it again (:class:`RunNotSaved`)."""
    try:
        with all_or_none():
            yield
    except RunNotSaved:
        raise
    except OSError as err:
        raise RunNotSaved(err, out) from None


class RunNotSaved(OSError):
    """A run's files could not be written (``cause``: a full disk, a quota); none was, and the message says how to go
    on: ``resumable`` (a checkpoint in ``out``, by default) with --resume, else with the same command again."""

    def __init__(self, cause: OSError, out: Path, resumable: bool | None = None):
        self.cause = cause
        if resumable is None:
            resumable = (out / "checkpoint.npz").exists()
        reason = str(cause.strerror or cause).split(" Fix:")[0].split("; ")[0].rstrip(".")
        kept, then = ((f"{out} holds the run as its last checkpoint left it",
                       "the same command with --resume continues it") if resumable else
                      (f"nothing of this run was kept in {out}", "the same command starts it again"))
        fix = ("free some space" if cause.errno in (errno.ENOSPC, errno.EDQUOT) else
               f"make {out} writable" if cause.errno in (errno.EACCES, errno.EPERM, errno.EROFS) else
               "remove what stopped the write")
        super().__init__(cause.errno, f"{reason}; none of the run's files of this epoch was written, and {kept}. "
                                      f"Fix: {fix}, then {then}.")


class StopFlag:
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

    def request(self) -> None:
        """Stop after the current step, as Ctrl-C does."""
        self.requested = True

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
