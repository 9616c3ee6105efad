r"""A small progress bar with ETA and running loss, written to stderr.

It redraws at most ten times a second, so it costs nothing measurable; with
``quiet=True`` it prints nothing. (A dependency such as tqdm would do the same;
these forty lines keep the install to NumPy and matplotlib.)
"""
import sys
import time
from typing import TextIO


def _clock(seconds):
    seconds = int(max(seconds, 0))
    return f"{seconds // 60}:{seconds % 60:02d}"


class Progress:
    """A one-line progress bar of ``total`` steps: :meth:`update` redraws it, :meth:`close` ends it."""

    def __init__(self, total: int, prefix: str = "", quiet: bool = False, stream: TextIO | None = None,
                 width: int = 24) -> None:
        self.total, self.prefix, self.quiet, self.width = max(int(total), 1), prefix, quiet, width
        self.stream = stream or sys.stderr
        self.start = time.perf_counter()
        self.last = 0.0
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def update(self, done: int, **values: float) -> None:
        """Redraw the bar at ``done`` steps with running ``values`` (e.g. ``loss=0.12``); only on a terminal."""
        if self.quiet or not self.tty:
            return
        now = time.perf_counter()
        if now - self.last < 0.1 and done < self.total:
            return
        self.last = now
        elapsed = now - self.start
        eta = elapsed / done * (self.total - done) if done else 0.0
        filled = int(self.width * done / self.total)
        bar = "#" * filled + "." * (self.width - filled)
        vals = " ".join(f"{k} {v:.4g}" for k, v in values.items())
        self.stream.write(f"\r{self.prefix} [{bar}] {done}/{self.total} {vals} ETA {_clock(eta)}\033[K")
        self.stream.flush()

    def close(self, message: str = "") -> None:
        """End the bar's line and print a summary line (also when not a terminal)."""
        if self.quiet:
            return
        if self.tty:
            self.stream.write("\r\033[K")
        if message:
            self.stream.write(message + "\n")
        self.stream.flush()
