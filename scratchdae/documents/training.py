r"""Training data for the document DAE: windows sampled from pages.

Pages come from the generator (fresh pages, seeded)
or from a Kaggle folder (``--data-dir`` with train/ and train_cleaned/).
Whole pages are split into training and validation, so no validation window
comes from a page seen in training. From each page we sample windows: half at
uniformly random pixels (the metric counts every pixel, most of them paper),
half at pixels near ink, where the cleaning is hard.

A second stage (``--first-stage MODEL``, :mod:`scratchdae.documents.stacked`)
trains on pages the first stage never trained on: fresh generated pages, or
the folder's pages other than those the first stage trained on. Its windows
also see the first stage's cleaned page, computed as at cleaning time.
"""
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..checkpoint import CheckpointError
from ..tasks import TaskData, validation_count
from ..validation import as_int
from .generate import BACKGROUNDS, FONT_FAMILIES, Page, make_page
from .pages import kaggle_pairs, read_pairs
from .config import FIRST_STAGE_FOLDER, DocumentsConfig
from .scale import training_heights
from .stacked import first_stage_outputs
from .windows import WindowSpec, page_features, patch_targets


def parse_families(text: str | None, allowed: Sequence[str], what: str) -> tuple[str, ...]:
    """The names in comma-separated ``text`` ("serif,mono"), each one of ``allowed``; None gives all of them."""
    if text is None:
        return tuple(allowed)
    names = tuple(t.strip() for t in str(text).split(",") if t.strip())
    bad = [n for n in names if n not in allowed]
    if bad or not names:
        raise ValueError(f"unknown {what} {bad or text!r}; expected a comma-separated list of {', '.join(allowed)}.")
    return names


def make_pages(n: int, seed: int, split: str, fonts: str | None = None, backgrounds: str | None = None,
               variety: bool = False, clutter: bool = False, wide_sizes: bool = False) -> list[Page]:
    """n generated pages (uint8, with their record and where they hold marks that are not text); the split
    name keeps training, validation and test pages apart. Drawn with the fonts that ship with matplotlib
    (the same pages on every machine); ``variety``: with sizes between whole pixels, heavier and lighter
    strokes and ink bleed; ``clutter``: with lines, specks and pen strokes on the noisy pages;
    ``wide_sizes``: with text of 9 to 44 pixels instead of 13 to 28."""
    n = as_int(n)  # a NumPy integer is fine; True is not a number of pages
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"the number of pages must be an integer >= 0, got {n!r}. Fix: e.g. make_pages(20, 0, "
                         "'test').")
    base = {"train": 100, "val": 200, "test": 300, "second": 400}[split]  # second: a second stage's training
    fonts = parse_families(fonts, FONT_FAMILIES, "font families")
    backgrounds = parse_families(backgrounds, BACKGROUNDS, "backgrounds")
    return [make_page([seed, base, i], fonts=fonts, backgrounds=backgrounds, variety=variety, clutter=clutter,
                      wide_sizes=wide_sizes) for i in range(n)]


def generated_pages(n: int, seed: int, split: str, fonts: str | None = None, backgrounds: str | None = None
                    ) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[dict[str, Any]]]:
    """n (noisy, clean) float pairs in [0, 1] and their records, from :func:`make_pages`."""
    pages = make_pages(n, seed, split, fonts, backgrounds)
    return [p.floats() for p in pages], [p.meta for p in pages]


def sample_windows(pairs: list[tuple[np.ndarray, np.ndarray]], spec: WindowSpec, per_page: int,
                   rng: np.random.Generator, marks: list[np.ndarray] | None = None,
                   mark_fraction: float = 0.0, first_outputs: list[np.ndarray] | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(features, targets) for ``per_page`` windows of each page: half near ink, the rest uniform; with
    ``marks`` (one bool mask a page of the pixels near marks that are not text, as the generator records
    them) and ``mark_fraction`` > 0, that fraction of each page's windows is taken near its marks instead
    of uniformly, so that the model sees enough creases and rims to learn them. A second stage
    (``spec.first_view``) also reads ``first_outputs``, the first stage's cleaned pages.

    Each page's windows are written into arrays made once for all pages (no list of pieces to
    join, which would hold every window twice)."""
    X = np.empty((len(pairs) * per_page, spec.n_features), np.float32)
    Y = np.empty((len(pairs) * per_page, spec.n_outputs), np.float32)
    for i, (noisy, clean) in enumerate(pairs):
        H, W = noisy.shape
        flat_ink = np.flatnonzero(clean.reshape(-1) < 0.9)
        flat_marks = np.flatnonzero(marks[i].reshape(-1)) if marks is not None and mark_fraction else []
        n_ink = per_page // 2 if len(flat_ink) else 0
        n_marks = int(per_page * mark_fraction) if len(flat_marks) else 0
        parts = [rng.integers(0, H * W, per_page - n_ink - n_marks),
                 rng.choice(flat_ink, n_ink) if n_ink else np.empty(0, np.int64)]
        if n_marks:  # drawn last: the other windows are the same with or without a share near marks
            parts.append(rng.choice(flat_marks, n_marks))
        idx = np.concatenate(parts)
        first_output = first_outputs[i] if first_outputs is not None else None
        X[i * per_page:(i + 1) * per_page] = page_features(noisy, spec, idx, first_output)  # only the sampled windows
        Y[i * per_page:(i + 1) * per_page] = patch_targets(clean, spec, idx)
    return X, Y


def document_data(cfg: Any, docs: DocumentsConfig, log: Callable[[str], None]) -> TaskData:
    """TaskData for ``scratchdae documents train``: ``cfg`` is the run's TrainConfig (seed, split, folder, backend),
    ``docs`` its DocumentsConfig (pages, windows, stages), which the run's files keep as ``documents``."""
    spec = docs.spec(second=bool(docs.first_stage))
    header = {"task": "documents", "window": spec.config(), "documents": docs.saved()}
    first_cleaner, arrays, trained_on = None, {}, set()
    if docs.first_stage:
        first_cleaner, entries, arrays = _read_first_stage(docs.first_stage, cfg.backend)
        header.update(entries)
        trained_on = set(entries["first_stage"].get("train_pages", []))
    if cfg.data_dir is not None:
        train_pairs, val_pairs, header["train_pages"] = _folder_pages(cfg, trained_on)
        source = f"Kaggle folder {cfg.data_dir} ({len(train_pairs)} training / {len(val_pairs)} validation pages)"
        marks = val_marks = None  # a folder's pages do not say where their marks are
    else:
        n_val = max(2, int(round(docs.pages * cfg.val_fraction)))
        log(f"generating {docs.pages} training and {n_val} validation pages ...")
        train = make_pages(docs.pages, cfg.seed, "second" if first_cleaner else "train", docs.fonts, docs.backgrounds,
                           docs.variety, docs.clutter, docs.wide_sizes)
        val = make_pages(n_val, cfg.seed, "val", docs.fonts, docs.backgrounds, docs.variety, docs.clutter,
                         docs.wide_sizes)
        train_pairs, marks = [p.floats() for p in train], [p.marks for p in train]
        val_pairs, val_marks = [p.floats() for p in val], [p.marks for p in val]
        source = (f"{docs.pages} generated pages{' of more variety' if docs.variety else ''}"
                  f"{' with clutter' if docs.clutter else ''}{' of wide text sizes' if docs.wide_sizes else ''} "
                  f"(fonts: {docs.fonts or 'all'}; backgrounds: {docs.backgrounds or 'all'}), {n_val} for validation")
    first_outputs = val_first_outputs = None
    if first_cleaner:
        log(f"cleaning the {len(train_pairs) + len(val_pairs)} pages with the first stage {docs.first_stage} ...")
        first_outputs = first_stage_outputs(first_cleaner, train_pairs)
        val_first_outputs = first_stage_outputs(first_cleaner, val_pairs)
        source += f", read beside the first stage's cleaned pages ({docs.first_stage})"
    header["text_height"] = training_heights([clean for _, clean in train_pairs])  # cleaning rescales to it
    rng = np.random.default_rng([cfg.seed, 5])
    X, Y = sample_windows(train_pairs, spec, docs.windows_per_page, rng, marks, docs.mark_windows, first_outputs)
    Xv, Yv = sample_windows(val_pairs, spec, max(500, docs.windows_per_page // 4), rng, val_marks, docs.mark_windows,
                            val_first_outputs)

    def figures(out, model, loss, corrupt, history, seed):
        from ..figures import loss_curves
        from .figures import page_figure
        from .stacked import PageCleaner, Stage

        cleaner = PageCleaner([*(first_cleaner.stages if first_cleaner else []), Stage(model, loss, spec)],
                              (header["text_height"]["low"], header["text_height"]["high"]))
        noisy, clean = val_pairs[0]
        return {"loss_curves": loss_curves(Path(out) / "loss_curves.png", history),
                "pages": page_figure(Path(out) / "pages.png", noisy, cleaner(noisy), clean)}

    return TaskData("documents", source, X, Y, Xv, Yv, header, figures, arrays)


def _read_first_stage(path, backend):
    """The first stage a second stage trains on, with what puts it into the second stage's model file."""
    from .stacked import read_first_stage

    try:
        return read_first_stage(path, backend)
    except CheckpointError as err:
        raise CheckpointError(f"the first stage (--first-stage) cannot be read: {str(err).split(' Fix:')[0]} "
                              "Fix: pass an intact document model; in a --stages 2 run, restore "
                              f"{FIRST_STAGE_FOLDER}/model.npz or start a new run.") from None


def _folder_pages(cfg, trained_on):
    """A Kaggle folder's (training pairs, validation pairs, training pages' SHA-256), leaving out the
    pages a first stage trained on (``trained_on``: their SHA-256)."""
    hashed = [(pair, _sha256(pair[0])) for pair in kaggle_pairs(cfg.data_dir)]  # each page read once
    hashed = [(pair, h) for pair, h in hashed if h not in trained_on]
    files = [pair for pair, _ in hashed]
    if len(files) < 2:
        why = (f" once the {len(trained_on)} pages its first stage trained on are left out (a second stage must "
               "not see better first-stage outputs in training than in use)" if trained_on else "")
        raise ValueError(f"{cfg.data_dir} has {len(files)} page pair{why}; at least 2 are needed (train and "
                         "validation). Fix: add pages to train/ and train_cleaned/"
                         f"{', or train the second stage on another folder' if trained_on else ''}.")
    order, n_val = _split(len(files), cfg)
    if n_val >= len(files):
        raise ValueError(f"--val-fraction {cfg.val_fraction} keeps {n_val} of the {len(files)} pages of "
                         f"{cfg.data_dir} for validation, which leaves none to train on. Fix: --val-fraction "
                         f"{round(0.5 * (len(files) - 1) / len(files), 2)} or less, or more pages.")
    train = sorted(order[n_val:])
    return (read_pairs([files[i] for i in train]), read_pairs([files[i] for i in sorted(order[:n_val])]),
            [hashed[i][1] for i in train])


def _split(n, cfg):
    """A folder's n pages in the seeded order of the split, and how many of the first are for validation."""
    return np.random.default_rng([cfg.seed, 1]).permutation(n), validation_count(n, cfg.val_fraction)


def copies_of_first_stage_pages(cfg: Any) -> tuple[int, list[str]]:
    """For a two-stage run on the folder ``cfg.data_dir``, before its first stage trains: how many pages its second
    stage will have (those the first does not train on), and the names of the pages it loses only because they hold
    the same page as one the first trains on, under another name."""
    hashed = [(pair, _sha256(pair[0])) for pair in kaggle_pairs(cfg.data_dir)]
    order, n_val = _split(len(hashed), cfg)
    seen = {hashed[i][1] for i in order[n_val:]}
    left = sorted(order[:n_val])
    copies = [hashed[i][0][0].name for i in left if hashed[i][1] in seen]
    return len(left) - len(copies), copies


def _sha256(path: Path) -> str:
    """A page file's SHA-256: which pages of a folder a first stage trained on."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
