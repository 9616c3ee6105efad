r"""Writing files so that nothing half-written is ever left on disk.

:func:`atomic_write` writes into a temporary file in the destination's own
folder and renames it over the destination only when writing succeeded
(``os.replace`` is atomic on POSIX and Windows). On any error, or Ctrl-C,
the temporary file is removed and the old file, if any, is untouched.
"""
import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Context manager yielding a file object; ``path`` appears only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_png(path, gray):
    """A uint8 (H, W) array as a grayscale PNG, atomically."""
    from PIL import Image

    with atomic_write(path) as f:
        Image.fromarray(gray, mode="L").save(f, format="PNG")
    return Path(path)


def default_cache_dir():
    """Where downloads go: $SCRATCHDAE_DATA, else $XDG_CACHE_HOME/scratchdae, else ~/.cache/scratchdae."""
    if os.environ.get("SCRATCHDAE_DATA"):
        return Path(os.environ["SCRATCHDAE_DATA"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "scratchdae"
