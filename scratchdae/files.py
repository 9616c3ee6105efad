r"""Writing files so that nothing half-written is ever left on disk.

:func:`atomic_write` writes into a temporary file in the destination's own
folder and renames it over the destination only when writing succeeded
(``os.replace`` is atomic on POSIX and Windows). On any error, or Ctrl-C,
the temporary file is removed and the old file, if any, is untouched;
:func:`all_or_none` makes several such writes one (a run's model, history
and checkpoint of an epoch). A new file gets the permissions the umask
allows (as ``open`` would give it), a replaced file keeps its own; a
destination that exists but is not a regular file (a device, a FIFO, a link
to one) is refused, never replaced.
"""
import contextlib
import errno
import os
import re
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .backend import Array


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """Context manager yielding a file object; ``path`` appears only on success."""
    path = Path(path)
    fd, tmp = _temporary_beside(path)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        staged = getattr(_STAGED, "pairs", None)
        if staged is None:
            os.replace(tmp, path)
        else:  # inside all_or_none: moved into place with the others at its end
            staged.append((tmp, path))
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(err, OSError) and err.errno is not None:  # a full disk, a quota: say which file
            raise OSError(err.errno, f"could not write {path} ({err.strerror}); it was left as it was. "
                                     f"Fix: {_fix_for(err)}") from None
        raise


_STAGED = threading.local()  # inside all_or_none: the (temporary, destination) pairs written so far


@contextlib.contextmanager
def all_or_none() -> Iterator[None]:
    """Every :func:`atomic_write` inside it (in this thread) is kept as a finished temporary file until its end,
    when all move into place together (:func:`replace_all`); an error or Ctrl-C inside it, or while they move,
    leaves every destination as it was."""
    outer, pairs = getattr(_STAGED, "pairs", None), []
    _STAGED.pairs = pairs
    try:
        try:
            yield
        finally:
            _STAGED.pairs = outer
        replace_all(pairs)
    except BaseException:
        for tmp, _ in pairs:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise


def write_pngs(items: list[tuple[str | Path, Array]], overwrite: bool = True) -> list[Path]:
    """Write several uint8 (H, W) arrays as grayscale PNGs, all or none.

    ``items`` is a list of (path, array). Each is written to a temporary file
    beside its destination first; only when every one is written are they
    renamed into place, so a full disk or Ctrl-C leaves no output and changes
    no existing file. Without ``overwrite``, a destination that exists when the
    files move in (another command wrote it meanwhile) stops them all.
    """
    from PIL import Image

    staged, cleaned = [], set()  # cleaned: the folders whose stale temporaries are already removed
    new_folders = {Path(path).parent for path, _ in items if not Path(path).parent.exists()}
    try:
        for path, gray in items:
            path = Path(path)
            fd, tmp = _temporary_beside(path, cleaned)
            staged.append((tmp, path))
            try:
                with os.fdopen(fd, "wb") as f:
                    Image.fromarray(gray, mode="L").save(f, format="PNG")
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as err:
                raise OSError(err.errno, f"could not write {path} ({err.strerror}); none of the {len(items)} "
                                         f"outputs was written. Fix: {_fix_for(err)}") from None
        replace_all(staged, overwrite)
    except BaseException:
        for tmp, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        for folder in new_folders:  # made for these outputs: gone with them
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    return [Path(path) for path, _ in items]


def replace_all(pairs: list[tuple[str | Path, str | Path]], overwrite: bool = True) -> None:
    """Move finished temporary files onto their destinations, all or none.

    The files they replace are first moved aside (a file that cannot be moved stops everything
    before any change), then the new ones move in; if one fails, every destination gets its old
    file back. The files moved aside are deleted only at the end. Without ``overwrite`` no file
    is replaced: each moves in only where its name is still free (a hard link, which fails on a
    name taken meanwhile), and a name taken stops them all.
    """
    aside, placed = [], []
    try:
        for _, dest in pairs if overwrite else ():
            if os.path.lexists(dest):
                fd, old = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=".part",
                                           dir=Path(dest).parent)
                os.close(fd)
                try:
                    os.replace(dest, old)
                except OSError:
                    os.unlink(old)
                    raise
                aside.append((old, dest))
        for tmp, dest in pairs:
            if overwrite:
                os.replace(tmp, dest)
            else:
                _move_to_a_free_name(tmp, dest)
            placed.append(dest)
    except BaseException as err:  # an error, or Ctrl-C in the middle: every old file goes back
        for dest in placed:
            with contextlib.suppress(OSError):
                os.unlink(dest)
        for old, dest in aside:
            with contextlib.suppress(OSError):
                os.replace(old, dest)
        if isinstance(err, FileExistsError):
            raise ValueError(f"{err.filename} appeared while this command ran (another command wrote it); nothing "
                             f"was written. Fix: choose another place for the outputs, move that file away, or pass "
                             "--overwrite to replace it.") from None
        if not isinstance(err, OSError):
            raise
        raise OSError(err.errno, f"could not replace {err.filename or 'an output'} ({err.strerror}); every output "
                                 f"was left as it was. Fix: {_fix_for(err)}") from None
    for old, _ in aside:
        with contextlib.suppress(OSError):
            os.unlink(old)


def _move_to_a_free_name(tmp, dest):
    """Move ``tmp`` to ``dest`` only if no file has that name: FileExistsError otherwise, never a replaced file."""
    try:
        os.link(tmp, dest)  # atomic: fails if the name is taken
    except FileExistsError:
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(dest)) from None
    except OSError:  # a file system without hard links: the check and the move, a moment apart
        if os.path.lexists(dest):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(dest)) from None
        os.replace(tmp, dest)
        return
    os.unlink(tmp)


def _cannot_write(folder, err):
    """An OSError that names the folder and what to do, not a hidden temporary file."""
    return OSError(err.errno, f"cannot write into {folder} ({err.strerror}). Fix: {_fix_for(err)}")


def _fix_for(err):
    """What to do about a failed write, by its cause."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return "free some space, or choose another place"
    if err.errno == errno.EFBIG:
        return "raise the limit on a file's size (ulimit -f), or choose another place"
    if err.errno == errno.ENAMETOOLONG:
        return "choose a shorter name"
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "choose a place you may write to, or make that file or folder writable"
    return "choose another place"


def make_folder(path: str | Path) -> Path:
    """``mkdir -p``, with an error that names the folder and the fix."""
    path = check_folder(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _cannot_write(path, err) from None
    return path


def check_path_type(path: object, what: str, example: str = "runs/first") -> None:
    """A path must be a str or an os.PathLike (a pathlib.Path), not a number or None."""
    if not isinstance(path, (str, os.PathLike)):
        name = what.lstrip("-").replace("-", "_")
        raise TypeError(f"{name} must be a path (a str or an os.PathLike such as pathlib.Path), got "
                        f"{type(path).__name__} {path!r}. Fix: e.g. {name}='{example}'.")


def check_folder(path: str | Path, what: str = "--out") -> Path:
    """A folder to write into: it need not exist yet, but neither it nor a folder above it may be a file."""
    check_path_type(path, what)
    path = Path(path)
    check_name_length(path)
    for p in (path, *path.parents):
        if os.path.lexists(p):
            if not p.is_dir():
                kind = "a link that leads nowhere (or to itself)" if p.is_symlink() and not p.exists() else "a file"
                where = "is" if p == path else f"lies under {p}, which is"
                raise ValueError(f"{what} {path} {where} {kind}, not a folder. Fix: choose a folder that is free or "
                                 "already a folder.")
            break
    return path


def check_outputs(outputs: list[str | Path], inputs: list[str | Path] = (), overwrite: bool = False,
                  option: str = "--out") -> None:
    """Refuse outputs that would replace an input (the model, an image being read) in any case, and files that
    already exist unless ``overwrite``: nothing that existed before is lost without being asked."""
    if overwrite not in (True, False):  # NumPy's booleans are fine; 'no' is not
        raise TypeError(f"overwrite must be True or False, got {overwrite!r}.")
    read = {os.path.realpath(p) for p in inputs}
    for out in outputs:
        check_name_length(Path(out))
        if os.path.realpath(out) in read:
            raise ValueError(f"writing {out} would replace one of this command's own inputs. Fix: choose another "
                             f"{option}.")
        if not overwrite and os.path.lexists(out):
            dangling = os.path.islink(out) and not os.path.exists(out)
            what = "is a link that leads nowhere" if dangling else "already exists"
            raise ValueError(f"{out} {what}. Fix: choose another {option}, move that file away, or pass "
                             "--overwrite to replace it.")


def check_png_name(path: str | Path, what: str = "a figure") -> None:
    """A figure's file name must end in .png (figures are PNG files): checked before the work that draws it."""
    check_path_type(path, what, "figure.png")
    if Path(path).name.lower() == ".png":  # only an extension: to Path, a hidden file with no suffix
        raise ValueError(f"{what} {path} is only an extension, with no name before it. Fix: e.g. "
                         f"{Path(path).with_name('field.png')}.")
    if Path(path).suffix.lower() != ".png":
        raise ValueError(f"{what} {path} ends in {Path(path).suffix or 'no suffix'}, and figures are PNG files. "
                         f"Fix: a name ending in .png, e.g. {Path(path).with_suffix('.png')}.")


def check_name_length(path: Path) -> None:
    """A file name longer than file systems allow (255 bytes) is refused in words, not as an OS error."""
    if len(os.fsencode(path.name)) > 255:  # fsencode: any name the file system gave us, UTF-8 or not
        raise ValueError(f"the file name {path.name[:40]}... is {len(os.fsencode(path.name))} bytes long; file "
                         "systems allow 255. Fix: choose a shorter name.")


TEMP_PREFIX = ".scratchdae-"  # temporary files: .scratchdae-PID-XXXXXXXX.part (or -chain_NAME.png for figures)
TEMP_NAME = re.compile(re.escape(TEMP_PREFIX) + r"(\d+)-(?:[a-z0-9_]{8}\.part|chain_[a-z]+\.png)")  # a whole name


def remove_stale_temporaries(folder: str | Path) -> None:
    """Delete the temporary files that writers killed before they finished (their process is gone) left in
    ``folder``; a live writer's are left alone, and so is any file whose whole name is not one of ours."""
    for tmp in Path(folder).glob(f"{TEMP_PREFIX}*"):
        match = TEMP_NAME.fullmatch(tmp.name)
        if match and not tmp.is_symlink() and tmp.is_file() and not alive(int(match[1])):
            with contextlib.suppress(OSError):
                tmp.unlink()


def _temporary_beside(path, cleaned=None):
    """A new temporary file in ``path``'s folder (so renaming it over ``path`` is atomic), with the mode
    ``path`` has or, for a new file, the mode the umask allows; a destination that is not a regular file
    is refused. A killed writer's leftovers in that folder are removed first, once per folder when the
    caller passes a set ``cleaned`` of the folders already seen."""
    check_name_length(path)
    if path.exists() and not path.is_file():
        raise ValueError(f"{path} exists and is not a regular file (a folder, device or pipe); refusing to replace "
                         "it. Fix: choose a file name that is free or a regular file.")
    check_folder(path.parent, "the folder of")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if cleaned is None or path.parent not in cleaned:
            remove_stale_temporaries(path.parent)
            if cleaned is not None:
                cleaned.add(path.parent)
        # named by our process, not by the file: a long file name still fits, and a killed run's leftovers
        # can be told from a live writer's
        fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=".part", dir=path.parent)
    except OSError as err:
        raise _cannot_write(path.parent, err) from None
    os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~current_umask())  # not mkstemp's 0600
    return fd, tmp


_HELD = set()  # the folders this process holds locked (its own process id cannot tell two of its runs apart)


@contextlib.contextmanager
def folder_lock(folder: str | Path, what: str = "training run") -> Iterator[Path]:
    """Hold ``folder/.lock`` (created with O_EXCL, holding our process id) while writing into the folder.

    A second run into the same folder is refused while the first is alive, so two
    runs never mix their files; a lock left by a process that no longer exists
    (killed) is taken over, and so are the temporary files it left half-written.
    """
    lock = Path(folder) / ".lock"
    key = os.path.realpath(folder)
    if key in _HELD:  # another training in this very process (a thread, or a train() inside on_step)
        raise ValueError(f"{folder} is in use by another {what} in this same program. Fix: choose another --out "
                         "folder.")
    if os.path.lexists(lock) and not lock.is_file():
        raise ValueError(f"{lock} is not a regular file (a folder or a link), so the folder cannot be locked. "
                         "Fix: remove it.")
    stale = False
    for attempt in range(3):  # the lock is gone when read (its holder just finished): try again
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            pid = _lock_holder(lock, folder)
        except OSError as err:
            raise _cannot_write(folder, err) from None
        if pid == 0 or (pid is not None and (pid != os.getpid() and alive(pid) or stale)) or attempt == 2:
            raise ValueError(f"{folder} is in use by another {what} (process {pid or 'unknown'}, lock file "
                             f"{lock}). Fix: wait for it to finish, or choose another --out folder; if no run "
                             f"is writing there (the lock outlived a restart), delete {lock}.") from None
        if pid is not None:  # stale: its process is gone (and a stale lock that comes back at once is refused)
            stale = True
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()
    with os.fdopen(fd, "w") as f:
        f.write(str(os.getpid()))
    remove_stale_temporaries(folder)  # atomic_write's temporaries from a run that was killed
    _HELD.add(key)
    try:
        yield lock
    finally:
        _HELD.discard(key)
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()


def _lock_holder(lock: Path, folder: str | Path) -> int | None:
    """The process id a run wrote in ``lock`` (0: none yet, it has only just made it; None: the lock is gone).
    A file that holds anything else was not written by a run: refused, and never deleted."""
    try:
        text = lock.read_bytes().decode("ascii", "backslashreplace").strip()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise _cannot_write(folder, err) from None
    if text and not text.isdigit():
        raise ValueError(f"{lock} is in the way: a run locks {folder} with a file of that name holding its process "
                         f"id, and this one holds {text[:30]!r}, so no run wrote it and it was left as it is. Fix: "
                         "move that file away, or choose another --out folder.")
    return int(text or 0)


def alive(pid: int) -> bool:
    """Whether a process with this id exists (someone else's counts)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError, ValueError):  # gone, or no process id at all
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def read_gray(path: str | Path, *, colour: str = "refuse", what: str = "image") -> Array:
    """A grayscale image file as float32 (H, W) in [0, 1]: the one reader for digits and pages.

    8-bit images are divided by 255 and 16-bit ones by 65535, so no value is clamped.
    ``colour="refuse"`` refuses a colour image, ``"luminance"`` converts it. A path that
    is not a regular file (a folder, a FIFO) is refused before it is opened, and so is an
    image large enough to be a decompression bomb.
    """
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        exists = path.exists()
    except OSError as err:  # a loop of symbolic links, a path too long
        raise ValueError(f"{what} {str(path)!r} cannot be opened ({err.strerror}). Fix: pass the image file "
                         "itself.") from None
    if not exists:
        nothing = " (a link to nothing)" if path.is_symlink() else ""
        raise FileNotFoundError(f"{what} {str(path)!r} does not exist{nothing}. Fix: check the path.")
    if not path.is_file():
        raise ValueError(f"{path} is not a regular file (a folder, pipe or device). Fix: pass PNG files.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # refused below, not printed
            with Image.open(path) as im:
                if getattr(im, "n_frames", 1) > 1:
                    raise ValueError(f"{path} holds {im.n_frames} images (frames); which one to read would be a "
                                     "guess. Fix: save the one you mean as a PNG.")
                im.load()
                if im.mode in ("LA", "RGBA", "PA") or (im.mode == "P" and "transparency" in im.info):
                    # transparent pixels show the paper: composite on white, as a viewer shows the image
                    im = Image.alpha_composite(Image.new("RGBA", im.size, "white"), im.convert("RGBA"))
                mode = im.mode
                if mode in ("RGB", "RGBA", "P", "CMYK", "YCbCr", "LAB", "HSV") and colour == "refuse":
                    rgb = np.asarray(im.convert("RGB"), dtype=np.int16)
                    if np.abs(np.diff(rgb, axis=2)).max() > 2:
                        raise ValueError(f"{path} is a colour image ({mode}); it must be grayscale. Fix: convert it "
                                         "to grayscale first (e.g. PIL: Image.open(p).convert('L')).")
                if mode == "F":  # 32-bit floats: intensities already, if they lie in [0, 1]
                    gray, scale = np.asarray(im, dtype=np.float64), 1.0
                elif mode.startswith("I"):  # 16- or 32-bit integers: 0-65535, as a 16-bit PNG holds
                    gray, scale = np.asarray(im, dtype=np.float64), 65535.0
                else:
                    gray, scale = np.asarray(im.convert("L"), dtype=np.float64), 255.0
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError(f"{path} is too large to be a digit or a page (over {Image.MAX_IMAGE_PIXELS:,} pixels; "
                         "Pillow refuses it as a possible decompression bomb). Fix: resize it first.") from None
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"{path} is not a readable image ({err}). Fix: pass PNG files.") from None
    if gray.size and np.isnan(gray).any():
        raise ValueError(f"{path} holds NaN pixels. Fix: save it as an 8- or 16-bit grayscale PNG.")
    if gray.size and not (0 <= gray.min() and gray.max() <= scale):
        raise ValueError(f"{path} holds {mode} pixels from {gray.min():g} to {gray.max():g}, outside 0-{scale:g}, so "
                         "they cannot be read as intensities without guessing. Fix: save it as an 8- or 16-bit "
                         "grayscale PNG.")
    return (gray / scale).astype(np.float32)


def write_png(path: str | Path, gray: Array) -> Path:
    """A uint8 (H, W) array as a grayscale PNG, atomically."""
    from PIL import Image

    with atomic_write(path) as f:
        Image.fromarray(gray, mode="L").save(f, format="PNG")
    return Path(path)

