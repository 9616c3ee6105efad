r"""Cleaning and scoring pages with a trained document model, beside the baselines.

RMSE of pixel intensities in [0, 1], Kaggle's metric, over every pixel of
every page, for: the noisy page as it is, a global (Otsu) threshold, median
filter background subtraction, and the model. All measured in the same run.
"""
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..backend import Backend
from ..checkpoint import CheckpointError, load_model
from ..losses import Loss
from ..model import Autoencoder
from ..validation import as_int
from .pages import global_threshold, kaggle_pairs, median_background_subtraction, read_pairs
from .training import generated_pages
from .windows import WindowSpec, clean_page


def load_document_model(path: str | Path,
                        backend: str | Backend | None = None) -> tuple[Autoencoder, Loss, WindowSpec]:
    """(model, loss, spec) from a model.npz trained on documents."""
    model, loss, header = load_model(path, backend)
    if header.get("task") != "documents":
        raise CheckpointError(f"{path} is a model of {header.get('task', 'images')}, not of documents. Fix: train one "
                              "with scratchdae train --dataset documents.")
    return model, loss, WindowSpec(**header["window"])


def document_cleaner(path: str | Path, backend: str | Backend | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """A function page (H, W) -> cleaned page, from a model file."""
    model, loss, spec = load_document_model(path, backend)
    return lambda page: clean_page(model, loss, page, spec)


def score_pages(pairs: list[tuple[np.ndarray, np.ndarray]], cleaner: Callable[[np.ndarray], np.ndarray],
                log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """RMSE of each method over all pixels of ``pairs`` [(noisy, clean)], and seconds per page of the model."""
    methods = {"noisy page": lambda p: p, "global threshold": global_threshold,
               "median background subtraction": median_background_subtraction}
    sse = dict.fromkeys([*methods, "model"], 0.0)
    n_pixels, seconds = 0, []
    for i, (noisy, clean) in enumerate(pairs):
        for name, f in methods.items():
            sse[name] += float(np.sum((f(noisy).astype(np.float64) - clean) ** 2))
        t = time.perf_counter()
        out = cleaner(noisy)
        seconds.append(time.perf_counter() - t)
        sse["model"] += float(np.sum((out.astype(np.float64) - clean) ** 2))
        n_pixels += clean.size
        if log:
            log(f"page {i + 1}/{len(pairs)}: model RMSE {np.sqrt(np.mean((out - clean) ** 2)):.4f}, "
                f"{seconds[-1]:.2f} s")
    scores = {name: float(np.sqrt(v / n_pixels)) for name, v in sse.items()}
    return {"rmse": scores, "pages": len(pairs), "seconds_per_page": float(np.mean(seconds)),
            "max_seconds_per_page": float(np.max(seconds))}


def evaluate_documents(model_path: str | Path, *, data_dir: str | Path | None = None, pages: int = 20,
                       seed: int = 12345, fonts: str | None = None, backgrounds: str | None = None,
                       system_fonts: bool = False, backend: str | Backend | None = None,
                       log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Score a document model on a Kaggle folder's train/ pairs, or on freshly generated pages."""
    from .generate import MAX_PAGES

    pages, seed = as_int(pages), as_int(seed)  # NumPy integers are fine
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}. Fix: --seed 12345.")
    if data_dir is None and (not isinstance(pages, int) or isinstance(pages, bool) or not 1 <= pages <= MAX_PAGES):
        raise ValueError(f"pages must be an integer from 1 to {MAX_PAGES:,}, got {pages!r}. Fix: --pages 20.")
    cleaner = document_cleaner(model_path, backend)
    if data_dir is not None:
        pairs = read_pairs(kaggle_pairs(data_dir))
        source = f"{Path(data_dir)} (train/ vs train_cleaned/)"
    else:
        pairs, _ = generated_pages(pages, seed, "test", fonts, backgrounds, system_fonts)
        source = f"{pages} generated pages, seed {seed}, fonts {fonts or 'all'}, backgrounds {backgrounds or 'all'}"
    result = score_pages(pairs, cleaner, log)
    result["source"] = source
    return result
