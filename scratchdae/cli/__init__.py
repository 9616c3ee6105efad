r"""The ``scratchdae`` command line: one module per command or command group, each with its parser
(``register``) next to its handler (``run``). Each command calls the Python API of the same name, so
everything here can also be done from a notebook.

    scratchdae train [options]                      scratchdae.train             cli/train.py
    scratchdae evaluate --model FILE (--images IDX | --dataset NAME | --data-dir DIR)
                                                    scratchdae.evaluate.evaluate cli/evaluate.py
    scratchdae denoise --model FILE INPUT... --out DIR
                                                    scratchdae.evaluate.denoise  cli/denoise.py
    scratchdae score --model FILE [--json]          scratchdae.score             cli/score.py
    scratchdae probe --model FILE [--json]          scratchdae.representation    cli/probe.py
    scratchdae sample --model FILE --out DIR        scratchdae.sampling          cli/sample.py
    scratchdae documents train|generate|evaluate|submit
                                                    scratchdae.documents         cli/documents.py
    scratchdae gradcheck [--backend B]              scratchdae.gradient_check    cli/gradcheck.py
    scratchdae info                                                              cli/info.py

Errors in the input (a bad option value, a missing file, a wrong image size)
print one line saying what is wrong and how to fix it, and exit with status 2;
set SCRATCHDAE_DEBUG=1 to see the traceback instead.
"""
import argparse
import contextlib
import errno
import os
import signal
import sys
import threading

from .. import __version__
from ..backend import Unavailable
from . import denoise, documents, evaluate, gradcheck, info, probe, sample, score, train

COMMANDS = (train, evaluate, denoise, score, probe, sample, documents, gradcheck, info)


def build_parser() -> argparse.ArgumentParser:
    """The ``scratchdae`` parser: each command's module adds its own, with its handler as ``func``."""
    parser = argparse.ArgumentParser(prog="scratchdae", description="Denoising autoencoders from scratch.",
                                     epilog="scratchdae COMMAND --help explains each command's options.")
    parser.add_argument("--version", action="version", version=f"scratchdae {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``scratchdae`` with ``argv`` (default: the command line); returns the exit status."""
    with _printable():
        args = build_parser().parse_args(argv)
        main_thread = threading.current_thread() is threading.main_thread()
        # SIGTERM and SIGHUP (a closed terminal) like Ctrl-C: files being written are removed, not left half-written
        polite = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
        old = {sig: signal.signal(sig, _terminated) for sig in polite} if main_thread else {}
        try:
            return _run(args)
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)


@contextlib.contextmanager
def _printable():
    """stdout and stderr escape what the terminal's encoding cannot show (a file name in ASCII: caf\\xe9.png),
    so that printing never fails, and stdout's write errors are marked as its own (:class:`_Stdout`); as they
    were afterwards."""
    kept = []
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError, OSError):  # not a text stream that can change
            kept.append((stream, stream.errors))
            stream.reconfigure(errors="backslashreplace")
    real = sys.stdout
    sys.stdout = marked = _Stdout(real)
    try:
        yield
    finally:
        if sys.stdout is marked:
            sys.stdout = real
        for stream, errors in kept:
            with contextlib.suppress(AttributeError, ValueError, OSError):
                stream.reconfigure(errors=errors)


def _run(args):
    from ..loop import TrainingDiverged

    command = " ".join(filter(None, [args.command, getattr(args, "documents_command", None)]))
    try:
        code = args.func(args)
        sys.stdout.flush()  # a full disk under > out.txt is found here, while it can still be said
        return code
    except BrokenPipeError:  # the reader went away (| head): stop quietly, as a SIGPIPE would
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (ValueError, TypeError, Unavailable, OSError, TrainingDiverged, MemoryError, OverflowError) as err:
        if os.environ.get("SCRATCHDAE_DEBUG", "").strip().lower() not in ("", "0", "false", "no", "off"):
            raise
        if isinstance(err, (MemoryError, OverflowError)) and "Fix:" not in str(err):
            err = f"{err or type(err).__name__}: a size asked for is too large for this machine. Fix: smaller numbers."
        if getattr(err, "on_stdout", False):
            err = (f"writing to standard output failed ({err.strerror or err}"
                   f"{': the disk is full' if err.errno in (errno.ENOSPC, errno.EDQUOT) else ''}). Fix: send the "
                   "output where there is room (> another-disk/out.txt), or free some space.")
        print(f"scratchdae {command}: error: {err}", file=sys.stderr)
        return 2  # a bad input, or settings that made training diverge
    except Terminated as stop:
        print(f"scratchdae {command}: terminated", file=sys.stderr)
        return 128 + stop.signum
    except KeyboardInterrupt:
        print(f"scratchdae {command}: interrupted", file=sys.stderr)
        return 130


class _Stdout:
    """sys.stdout, its write errors marked (``on_stdout``) so that a full disk under > out.txt is told from a file's."""

    def __init__(self, stream):
        self._stream = stream

    def __getattr__(self, name):
        return getattr(self._stream, name)

    def write(self, text):
        return self._marked(self._stream.write, text)

    def flush(self):
        return self._marked(self._stream.flush)

    def _marked(self, f, *args):
        try:
            return f(*args)
        except OSError as err:
            if not isinstance(err, BrokenPipeError):  # a reader that went away is not an error
                err.on_stdout = True
                with contextlib.suppress(OSError, ValueError, AttributeError):  # nothing fails again at exit
                    os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())
            raise


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the program is so that cleanup runs as for Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _terminated(signum, frame):
    raise Terminated(signum)


if __name__ == "__main__":
    sys.exit(main())
