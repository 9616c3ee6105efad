r"""Pages on disk: a Kaggle-style folder, PNG reading, the submission file, baselines.

A Kaggle "Denoising Dirty Documents" folder has ``train/`` (noisy pages),
``train_cleaned/`` (the same pages clean, same file names) and ``test/``
(noisy pages to clean). Pixel values are read as floats in [0, 1].

The submission is a CSV ``id,value`` with one row per pixel of every test
page; id is ``image_row_col``, 1-based, images in numeric order and, within
an image, rows varying fastest (1_1_1, 1_2_1, 1_3_1, ...), as in Kaggle's
sample submission.
"""
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from ..files import atomic_write, read_gray
from .filters import median_filter

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def read_page(path: str | Path) -> np.ndarray:
    """A grayscale page as float32 (H, W) in [0, 1]. Colour, non-images and unreadable files are refused."""
    return read_gray(path, what="page")


def page_files(folder: str | Path) -> list[Path]:
    """Image files of a folder in numeric order of their names (1.png, 2.png, 10.png)."""
    folder = Path(folder)
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise FileNotFoundError(f"folder {str(folder)!r} {what}. Fix: pass the folder of pages.")
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    key = lambda p: (int(p.stem) if p.stem.isdigit() else float("inf"), p.name)  # noqa: E731
    return sorted(files, key=key)


def kaggle_pairs(folder: str | Path) -> list[tuple[Path, Path]]:
    """(noisy path, clean path) for every page of ``train/`` that has its twin in ``train_cleaned/``."""
    folder = Path(folder)
    train, cleaned = folder / "train", folder / "train_cleaned"
    if not train.is_dir() or not cleaned.is_dir():
        raise FileNotFoundError(f"{folder} is not a Kaggle 'Denoising Dirty Documents' folder: expected train/ and "
                                "train_cleaned/ inside it (and test/ for a submission). Fix: unzip the competition's "
                                "train.zip, train_cleaned.zip and test.zip there, or generate pages with "
                                "scratchdae documents generate.")
    noisy = page_files(train)
    missing = [p.name for p in noisy if not (cleaned / p.name).is_file()]
    if missing:
        raise ValueError(f"{cleaned} lacks the clean twins of {missing[:5]}{' ...' if len(missing) > 5 else ''}; "
                         "every page in train/ needs the same file name in train_cleaned/. Fix: add them, or remove "
                         "those pages from train/.")
    if not noisy:
        raise ValueError(f"{train} holds no images. Fix: put the noisy pages there (1.png, 2.png, ...).")
    return [(p, cleaned / p.name) for p in noisy]


def read_pairs(files: Iterable[tuple[str | Path, str | Path]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Read (noisy, clean) page pairs from paths, refusing a pair whose two pages differ in size."""
    pairs = []
    for noisy_path, clean_path in files:
        noisy, clean = read_page(noisy_path), read_page(clean_path)
        if noisy.shape != clean.shape:
            raise ValueError(f"{noisy_path} is {noisy.shape[0]}x{noisy.shape[1]} pixels and its clean twin "
                             f"{clean_path} is {clean.shape[0]}x{clean.shape[1]}: a page and its clean version must "
                             "be the same size. Fix: replace one of them with the matching page.")
        pairs.append((noisy, clean))
    return pairs


def is_kaggle_folder(folder: str | Path | None) -> bool:
    """Whether ``folder`` holds ``train/`` and ``train_cleaned/``: a Kaggle-style folder of page pairs."""
    return folder is not None and (Path(folder) / "train").is_dir() and (Path(folder) / "train_cleaned").is_dir()


def write_submission(path: str | Path, pages: Iterable[str | Path], clean_fn: Callable[[np.ndarray], np.ndarray],
                     log: Callable[[str], None] = print) -> int:
    """Stream the Kaggle CSV for ``pages`` (paths) cleaned by ``clean_fn(page) -> (H, W)``; returns rows written.

    Every page is read and checked before the first row is written, and the
    file appears only when complete (a temporary file is renamed at the end).
    """
    pages = [Path(p) for p in pages]
    ids = []
    for p in pages:
        if not re.fullmatch(r"\d+", p.stem):
            raise ValueError(f"{p}: Kaggle ids need numeric file names. Fix: rename the test pages 1.png, 2.png, ...")
        ids.append(int(p.stem))
    if len(set(ids)) != len(ids):
        raise ValueError("two test pages share an image number (e.g. 1.png and 1.jpg). Fix: keep one of them.")
    noisy = [read_page(p) for p in pages]  # every page readable before anything is written
    rows = 0
    with atomic_write(path, "w") as f:
        f.write("id,value\n")
        for n, p, page in zip(ids, pages, noisy):
            cleaned = clean_fn(page)
            if cleaned.shape != page.shape or not np.isfinite(cleaned).all():
                raise ValueError(f"cleaning {p} gave values of shape {cleaned.shape} (NaN or inf among them: "
                                 f"{not np.isfinite(cleaned).all()}) for a page of {page.shape}. Fix: use an intact "
                                 "model that did not diverge.")
            cleaned = np.clip(cleaned, 0, 1)
            H, W = cleaned.shape
            lines = []
            for c in range(W):  # rows vary fastest, as in Kaggle's sample submission
                # formatted in Python, not np.char.mod, which can swallow Ctrl-C
                lines.append("\n".join(f"{n}_{i}_{c + 1},{v:.4f}" for i, v in enumerate(cleaned[:, c].tolist(), 1)))
            f.write("\n".join(lines) + "\n")
            rows += H * W
            log(f"{p.name}: {H}x{W}")
    return rows


# -- baselines, measured beside the model --------------------------------------------------

def rmse(a: np.ndarray, b: np.ndarray) -> float:
    """Root mean squared difference of two pages (Kaggle's metric), computed in float64."""
    return float(np.sqrt(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)))


def global_threshold(page: np.ndarray, t: float | None = None) -> np.ndarray:
    """Every pixel to white or black around one threshold (Otsu's when none is given)."""
    if t is None:
        hist = np.histogram(page, bins=256, range=(0, 1))[0].astype(np.float64)
        p = hist / hist.sum()
        omega, mu = np.cumsum(p), np.cumsum(p * np.arange(256))
        between = (mu[-1] * omega - mu) ** 2 / np.maximum(omega * (1 - omega), 1e-12)
        t = (np.argmax(between) + 0.5) / 256
    return np.where(page > t, 1.0, 0.0).astype(np.float32)


def median_background_subtraction(page: np.ndarray, k: int = 11) -> np.ndarray:
    """The classic baseline: estimate the paper with a k x k median filter, subtract it,
    keep only what is darker than the paper, and stretch that to [0, 1] (darkest ink to 0)."""
    foreground = np.minimum(page - median_filter(page, k), 0)  # <= 0: ink only
    darkest = float(foreground.min())
    return (1 - foreground / darkest).astype(np.float32) if darkest < 0 else np.ones_like(page)
