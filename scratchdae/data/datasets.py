r"""Data sets of 28x28 images: the bundled MNIST sample, MNIST and Fashion-MNIST
downloaded on first use, or any folder of IDX files.

``load_dataset("mnist-sample")``   8,000 real MNIST digits shipped with the package (offline).
``load_dataset("mnist")``          downloaded from the first mirror that answers, checked by SHA-256.
``load_dataset("fashion-mnist")``  likewise.
``load_dataset(None, data_dir=D)`` the IDX files in folder D (train-images-idx3-ubyte[.gz] and so on).

Downloads go to ``data_dir`` when given, else to a per-user cache
(:func:`default_cache_dir`, overridden by ``$SCRATCHDAE_DATA``).
Every file is written atomically: a broken download never leaves a file that
looks complete.
"""
import gzip
import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..files import atomic_write
from .idx import idx_header, read_idx

SAMPLE_DIR = Path(__file__).resolve().parent / "mnist_sample"
ROLES = ("train-images", "train-labels", "test-images", "test-labels")


@dataclass
class FileSpec:
    """A file of a remote data set. ``sha256`` is of the file as served, or,
    when ``checksum_of="content"``, of its decompressed bytes (so a mirror that
    recompressed the same data still passes)."""

    name: str
    sha256: str
    checksum_of: str = "file"


@dataclass
class RemoteSpec:
    """A data set to download: the base URLs of its mirrors (tried in order), its files by role
    (train-images, ...: a :class:`FileSpec` each), and how to cite it."""

    name: str
    mirrors: list
    files: dict  # role -> FileSpec
    citation: str = ""


MNIST = RemoteSpec(
    "mnist",
    mirrors=[
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ],
    files={
        "train-images": FileSpec("train-images-idx3-ubyte.gz",
                                 "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
        "train-labels": FileSpec("train-labels-idx1-ubyte.gz",
                                 "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        "test-images": FileSpec("t10k-images-idx3-ubyte.gz",
                                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
        "test-labels": FileSpec("t10k-labels-idx1-ubyte.gz",
                                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    },
    citation="Y. LeCun, C. Cortes, C. J. C. Burges, The MNIST database of handwritten digits (CC BY-SA 3.0).",
)

FASHION_MNIST = RemoteSpec(
    "fashion-mnist",
    mirrors=[
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ],
    files={
        "train-images": FileSpec("train-images-idx3-ubyte.gz",
                                 "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", "content"),
        "train-labels": FileSpec("train-labels-idx1-ubyte.gz",
                                 "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", "content"),
        "test-images": FileSpec("t10k-images-idx3-ubyte.gz",
                                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", "content"),
        "test-labels": FileSpec("t10k-labels-idx1-ubyte.gz",
                                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", "content"),
    },
    citation="H. Xiao, K. Rasul, R. Vollgraf, Fashion-MNIST (MIT license).",
)

REMOTE = {s.name: s for s in (MNIST, FASHION_MNIST)}
DATASETS = ("mnist-sample", *REMOTE)


class DownloadError(OSError):
    """No mirror gave a file with the right checksum."""


@dataclass
class Dataset:
    """Images as uint8 arrays (N, H, W); labels (N,) when the files have them."""

    name: str
    train_images: np.ndarray
    test_images: np.ndarray
    train_labels: np.ndarray = None
    test_labels: np.ndarray = None
    source: str = ""
    files: dict = field(default_factory=dict)

    @property
    def image_shape(self) -> tuple[int, int]:
        """(H, W) of one image."""
        return tuple(self.train_images.shape[1:])

    def __repr__(self):
        return (f"Dataset({self.name!r}: {len(self.train_images):,} train + {len(self.test_images):,} test images "
                f"of {'x'.join(map(str, self.image_shape))}, from {self.source})")


def _sha256(path, of="file"):
    h = hashlib.sha256()
    opener = gzip.open if of == "content" else open
    with opener(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _checksum_ok(path, spec):
    try:
        return _sha256(path, spec.checksum_of) == spec.sha256
    except (OSError, EOFError):  # a .gz that does not decompress
        return False


def _manual_hint(remote, folder):
    names = ", ".join(f.name for f in remote.files.values())
    return (f"To install by hand: download {names} from any of the mirrors above on a machine that is online, "
            f"put them in {folder} (the --data-dir folder, or the cache), and run again. For class without internet, "
            "the bundled sample needs nothing: --dataset mnist-sample.")


def download(remote: RemoteSpec, folder: str | Path, *, mirrors: list[str] | None = None, timeout: float = 30,
             log: Callable[[str], None] = print) -> dict[str, Path]:
    """Fetch every file of ``remote`` missing from ``folder``; return role -> path.

    Mirrors are tried in order for each file. Each download goes to a temporary
    name and takes its real name only when its SHA-256 matches; otherwise it is
    discarded and the next mirror is tried. A file of that name that was already
    there and does not match is never deleted: it is kept beside, as NAME.mismatch.
    When no mirror works, a :class:`DownloadError` names every URL tried, what
    went wrong, and where to put the files by hand.
    """
    folder = Path(folder)
    mirrors = list(mirrors or remote.mirrors)
    paths = {}
    for role, spec in remote.files.items():
        path = folder / spec.name
        if path.exists():
            if path.is_file() and _checksum_ok(path, spec):
                paths[role] = path
                continue
            log(f"{path}: not the expected file (SHA-256 differs); downloading it again")
        tried = [f"{path}: already there, but not {remote.name}'s file (its SHA-256 differs; to train on the IDX "
                 "files of a folder as they are, pass --data-dir without --dataset)"] if path.exists() else []
        import urllib.error  # here, not at the top: urllib loads ssl and http, 8 MB a training run never needs
        import urllib.request

        for base in mirrors:
            url = base + spec.name
            part = folder / f".{spec.name}.download"
            try:
                log(f"downloading {url}")
                with urllib.request.urlopen(url, timeout=timeout) as r, atomic_write(part) as f:
                    shutil.copyfileobj(r, f, 1 << 20)
            except (urllib.error.URLError, OSError, ValueError) as err:
                tried.append(f"{url}: {getattr(err, 'reason', err)}")
                continue
            if not _checksum_ok(part, spec):
                part.unlink()
                tried.append(f"{url}: SHA-256 mismatch (expected {spec.sha256[:16]}...), download discarded")
                continue
            if path.exists():  # the user's own file of that name: kept, never deleted
                kept = _free_name(path.with_name(path.name + ".mismatch"))
                path.rename(kept)
                log(f"kept the file that was there as {kept}")
            part.rename(path)
            paths[role] = path
            break
        else:
            raise DownloadError(f"could not get {spec.name} for {remote.name}. Tried:\n  " + "\n  ".join(tried)
                                + "\n" + _manual_hint(remote, folder))
    return paths


def _free_name(path):
    """``path``, or ``path.1``, ``path.2``, ...: the first name not taken."""
    candidate, i = path, 0
    while candidate.exists():
        i += 1
        candidate = path.with_name(f"{path.name}.{i}")
    return candidate


def find_idx_files(folder: str | Path) -> dict[str, Path]:
    """role -> path for the IDX files in a folder, under their usual names (raw or .gz)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"data folder {str(folder)!r} does not exist or is not a folder.")
    prefixes = {"train": ("train",), "test": ("t10k", "test")}
    found = {}
    for role in ROLES:
        split, kind = role.split("-")
        dims = "idx3" if kind == "images" else "idx1"
        candidates = [folder / f"{prefix}-{kind}{sep}{dims}-ubyte{ext}" for prefix in prefixes[split]
                      for sep in ("-", ".") for ext in (".gz", "")]
        present = [p for p in candidates if os.path.lexists(p)]
        odd = [p for p in present if not p.is_file()]
        if odd:
            raise ValueError(f"{odd[0]} is not a regular file (a folder, pipe or broken link). Fix: put the IDX file "
                             "itself there.")
        if len(present) > 1:
            raise ValueError(f"{folder} holds {len(present)} {role} files ({', '.join(p.name for p in present)}); "
                             "which one to read would be a guess. Fix: keep one of them.")
        if present:
            found[role] = present[0]
    missing = [r for r in ("train-images", "test-images") if r not in found]
    if missing:
        listing = ", ".join(sorted(p.name for p in folder.iterdir())[:10]) or "nothing"
        hint = ""
        if (folder / "train").is_dir() and not (folder / "train_cleaned").is_dir():
            hint = (" It has a train/ folder but no train_cleaned/: a Kaggle dirty-documents folder needs both "
                    "(train_cleaned/ holds the clean twins of the pages in train/).")
        raise FileNotFoundError(
            f"{folder} has no {' or '.join(missing)} IDX file; expected names like train-images-idx3-ubyte.gz "
            f"and t10k-images-idx3-ubyte.gz (raw or gzip). Found: {listing}.{hint} Fix: point --data-dir at a "
            "folder of IDX files, or use --dataset mnist-sample.")
    return found


def _read(name, files, source, train_images=True):
    arrays = {role: read_idx(path) for role, path in files.items() if train_images or role != "train-images"}
    if not train_images:  # only its header: an empty array of the right image size, and the count
        dims, dtype = idx_header(files["train-images"])
        arrays["train-images"] = np.empty((0, *dims[1:]), dtype)
    n = {"train": len(arrays["train-images"]) if train_images else dims[0], "test": len(arrays["test-images"])}
    for split in ("train", "test"):
        role, a = f"{split}-images", arrays[f"{split}-images"]
        if a.ndim != 3 or a.dtype != np.uint8 or 0 in a.shape[1:]:
            raise ValueError(f"{files[role]}: expected uint8 images of shape (N, H, W), H and W at least 1, got "
                             f"{a.dtype} {(n[split], *a.shape[1:])}. Fix: pass the IDX image files of the data "
                             "set (train-images-idx3-ubyte and t10k-images-idx3-ubyte for MNIST).")
        if n[split] == 0:
            raise ValueError(f"{files[role]} holds no images (its header says 0). Fix: pass a file with images; "
                             "training needs both, and draws its figures from the test images.")
    if arrays["train-images"].shape[1:] != arrays["test-images"].shape[1:]:
        raise ValueError(f"train and test images differ in size: {arrays['train-images'].shape[1:]} vs "
                         f"{arrays['test-images'].shape[1:]}.")
    for split in ("train", "test"):
        labels = arrays.get(f"{split}-labels")
        if labels is not None and len(labels) != n[split]:
            raise ValueError(f"{files[split + '-labels']}: {len(labels)} labels for {n[split]} images.")
    return Dataset(name, arrays["train-images"], arrays["test-images"], arrays.get("train-labels"),
                   arrays.get("test-labels"), source=source, files={k: str(v) for k, v in files.items()})


def load_dataset(name: str | None = "mnist-sample", data_dir: str | Path | None = None, *,
                 mirrors: list[str] | None = None, log: Callable[[str], None] = print,
                 train_images: bool = True) -> Dataset:
    """Load a data set by name, or the IDX files of a folder (``name=None``).

    Parameters
    ----------
    name : {"mnist-sample", "mnist", "fashion-mnist"} or None
    data_dir : path, optional
        With a name: where that data set's files are (downloaded there if
        missing). Without a name: a plain folder of IDX files.
    mirrors : list of base URLs, optional
        Replace the official mirrors (for a local mirror, or tests).
    train_images : bool
        False: leave the training images on disk (``train_images`` is then an
        empty (0, H, W) array, and ``files["train-images"]`` the file to read
        with :func:`~scratchdae.data.idx.iter_idx`, a block at a time).
    """
    if not isinstance(train_images, bool):
        raise TypeError(f"train_images must be True or False, got {train_images!r}.")
    if name is None:
        if data_dir is None:
            raise ValueError("give a data set name or a folder of IDX files (data_dir).")
        return _read(Path(data_dir).name, find_idx_files(data_dir), f"folder {data_dir}", train_images)
    if name == "mnist-sample":
        if data_dir is not None:
            raise ValueError(f"data_dir {str(data_dir)!r} would be ignored: the bundled sample is not read from a "
                             "folder. Fix: drop --dataset to read that folder's IDX files (name=None in Python), or "
                             "drop --data-dir.")
        return _read(name, find_idx_files(SAMPLE_DIR), "the sample bundled with scratchdae", train_images)
    if name not in REMOTE:
        raise ValueError(f"unknown data set {name!r}; expected one of: {', '.join(DATASETS)}, "
                         "or a folder of IDX files with --data-dir.")
    folder = Path(data_dir) if data_dir is not None else default_cache_dir() / name
    paths = download(REMOTE[name], folder, mirrors=mirrors, log=log)
    return _read(name, paths, f"{folder}", train_images)


def default_cache_dir() -> Path:
    """Where downloads go: $SCRATCHDAE_DATA, else $XDG_CACHE_HOME/scratchdae, else ~/.cache/scratchdae."""
    if os.environ.get("SCRATCHDAE_DATA"):
        return Path(os.environ["SCRATCHDAE_DATA"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "scratchdae"
