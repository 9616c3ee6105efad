r"""Cleaning and scoring pages with a trained document model, beside the baselines.

RMSE of pixel intensities in [0, 1], Kaggle's metric, over every pixel of
every page, for: the noisy page as it is, a global (Otsu) threshold, median
filter background subtraction, and the model. All measured in the same run.
"""
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..backend import Backend, Unavailable
from ..losses import Loss
from ..model import Autoencoder
from ..validation import as_int, check_seed
from .ocr import INSTALL, chars, error_rates, read_texts, tesseract_available, words
from .pages import (global_threshold, is_kaggle_folder, kaggle_pairs, median_background_subtraction, page_files,
                    read_pairs)
from .training import make_pages
from .stacked import load_cleaner
from .windows import WindowSpec


def load_document_model(path: str | Path,
                        backend: str | Backend | None = None) -> tuple[Autoencoder, Loss, WindowSpec]:
    """(model, loss, spec) from a model.npz of one stage trained on documents, for
    ``clean_page(model, loss, page, spec)``; a stacked model is read with :func:`load_cleaner`."""
    cleaner = load_cleaner(path, backend)
    if len(cleaner.stages) > 1:
        raise ValueError(f"{path} is a stacked cleaner of two stages, which clean_page alone cannot run. Fix: "
                         "cleaner = load_cleaner(path); cleaner(page).")
    s = cleaner.stages[0]
    return s.model, s.loss, s.spec


GROUPS = {"font_family": "font family", "size": "font size", "background": "background"}  # meta key -> label


def score_pages(pairs: list[tuple[np.ndarray, np.ndarray]], cleaner: Callable[[np.ndarray], np.ndarray],
                log: Callable[[str], None] | None = None, meta: list[dict[str, Any]] | None = None,
                near_marks: list[np.ndarray] | None = None,
                others: dict[str, Callable[[np.ndarray], np.ndarray]] | None = None, ocr: bool = False
                ) -> dict[str, Any]:
    """RMSE of each method over all pixels of ``pairs`` [(noisy, clean)], and seconds per page of the model.

    The methods are the noisy page, the baselines, ``others`` (name -> cleaner, e.g. a stacked
    model's first stage alone) and the model.

    With ``meta``, one dict a page as the generator records it, also each method's RMSE per font family,
    per font size and per background family (``by``: group -> value -> method -> RMSE, with ``pages``).
    ``page_rmse`` is the model's RMSE on each page, in order (the worst pages are the largest).

    With ``near_marks``, one bool (H, W) mask a page of the pixels near marks that are not text (stain rims,
    creases, ridges, watermarks; the generator knows where it drew them), ``marks`` gives each method's
    RMSE on those pixels and on the rest, ``near marks`` and ``elsewhere``, with their pixel counts.

    With ``ocr``, tesseract reads every page each method gives and the clean page, and ``ocr`` gives each
    method's CER and WER against the clean page's reading (E2), (E3): overall (``cer``, ``wer``) and page by
    page (``pages``), with the reference's length (``chars``, ``words``).
    """
    if ocr and not tesseract_available():
        raise Unavailable(INSTALL)
    if meta is not None and len(meta) != len(pairs):
        raise ValueError(f"meta must hold one dict a page: {len(meta)} for {len(pairs)} pages.")
    if near_marks is not None and [m.shape for m in near_marks] != [c.shape for _, c in pairs]:
        raise ValueError("near_marks must hold one mask a page, each of its page's shape.")
    methods = {"noisy page": lambda p: p, "global threshold": global_threshold,
               "median background subtraction": median_background_subtraction, **(others or {})}
    names = [*methods, "model"]
    sse = dict.fromkeys(names, 0.0)
    # pixels near marks that are not text, and the rest: [sse by method, pixels]
    marks = {where: [dict.fromkeys(names, 0.0), 0] for where in ("near marks", "elsewhere")} if near_marks else {}
    groups = ({g: {} for g in GROUPS if all(g in m for m in meta)}  # group -> value -> [sse by method, pixels, pages]
              if meta is not None else {})
    n_pixels, seconds, page_rmse = 0, [], []
    readings, references = {name: [] for name in names}, []
    for i, (noisy, clean) in enumerate(pairs):
        outs = {name: f(noisy) for name, f in methods.items()}
        t = time.perf_counter()
        outs["model"] = cleaner(noisy)
        seconds.append(time.perf_counter() - t)
        page_sse = {name: float(np.sum((out.astype(np.float64) - clean) ** 2)) for name, out in outs.items()}
        if ocr:
            texts = read_texts([clean, *outs.values()])
            references.append(texts[0])
            for name, text in zip(outs, texts[1:]):
                readings[name].append(text)
        for name in names:
            sse[name] += page_sse[name]
        if marks:  # near the marks, and elsewhere: the rest of the page's error and pixels
            near = near_marks[i]
            for name, out in outs.items():
                e_near = float(np.sum((out[near].astype(np.float64) - clean[near]) ** 2))
                marks["near marks"][0][name] += e_near
                marks["elsewhere"][0][name] += page_sse[name] - e_near
            marks["near marks"][1] += int(near.sum())
            marks["elsewhere"][1] += clean.size - int(near.sum())
        for g, values in groups.items():
            total = values.setdefault(str(meta[i][g]), [dict.fromkeys(names, 0.0), 0, 0])
            for name in names:
                total[0][name] += page_sse[name]
            total[1] += clean.size
            total[2] += 1
        n_pixels += clean.size
        page_rmse.append(float(np.sqrt(page_sse["model"] / clean.size)))
        if log:
            read = (f", CER {error_rates(readings['model'][-1:], references[-1:])['cer']:.3f} (noisy "
                    f"{error_rates(readings['noisy page'][-1:], references[-1:])['cer']:.3f})"
                    if ocr and words(references[-1]) else "")
            log(f"page {i + 1}/{len(pairs)}: model RMSE {page_rmse[-1]:.4f}{read}, {seconds[-1]:.2f} s")
    result = {"rmse": {name: float(np.sqrt(v / n_pixels)) for name, v in sse.items()}, "pages": len(pairs),
              "seconds_per_page": float(np.mean(seconds)), "max_seconds_per_page": float(np.max(seconds)),
              "page_rmse": page_rmse}
    if groups:
        result["by"] = {g: {value: {**{name: float(np.sqrt(e / pixels)) for name, e in errors.items()}, "pages": k}
                            for value, (errors, pixels, k) in sorted(values.items())}
                        for g, values in groups.items()}
    if ocr:
        result["ocr"] = ocr_scores(readings, references)
    if marks:
        result["marks"] = {where: {**{name: float(np.sqrt(e / max(pixels, 1))) for name, e in errors.items()},
                                   "pixels": pixels} for where, (errors, pixels) in marks.items()}
    return result


RATES = ("cer", "wer", "order_free_wer")  # (E2)-(E4)


def ocr_scores(readings: dict[str, list[str]], references: list[str]) -> dict[str, Any]:
    """CER, WER and the order-free WER of each method's readings (name -> one text a page) against the
    references, overall and page by page. A page whose reference reads as no text at all has no rate: it is
    listed in ``unread`` and left out of the overall rates (which are None when no page is left)."""
    unread = [i for i, ref in enumerate(references) if not words(ref)]
    kept = [i for i in range(len(references)) if i not in unread]
    none = dict.fromkeys(RATES)
    overall = {name: error_rates([texts[i] for i in kept], [references[i] for i in kept]) if kept else none
               for name, texts in readings.items()}

    def rates(reading, reference):
        r = error_rates([reading], [reference])
        return {k: r[k] for k in RATES}

    pages = [{"chars": len(chars(ref)), "words": len(words(ref)),
              **{name: rates(texts[i], ref) if i in kept else none for name, texts in readings.items()}}
             for i, ref in enumerate(references)]
    return {**{k: {name: r[k] for name, r in overall.items()} for k in RATES},
            "chars": sum(p["chars"] for p in pages), "words": sum(p["words"] for p in pages), "pages": pages,
            "unread": unread}


def worst_pages(result: dict[str, Any], n: int = 3) -> list[int]:
    """The indices of the n pages the model cleaned worst (largest RMSE first)."""
    return sorted(range(len(result["page_rmse"])), key=lambda i: -result["page_rmse"][i])[:n]


def evaluate_documents(model_path: str | Path, *, data_dir: str | Path | None = None, pages: int = 20,
                       seed: int = 12345, fonts: str | None = None, backgrounds: str | None = None,
                       backend: str | Backend | None = None,
                       log: Callable[[str], None] | None = None, figure: str | Path | None = None,
                       generator: str = "main", stride: int | None = None,
                       keep_paper: float | None = None, text_height: float | None = None,
                       light_on_dark: bool | str | None = None, tidy: bool | str | None = None,
                       ocr: bool = False, overwrite: bool = False) -> dict[str, Any]:
    """Score a document model on a Kaggle folder's train/ pairs, or on freshly generated pages.

    On generated pages the result also holds each method's RMSE per font family, font size and
    background family (``by``) and near marks that are not text (``marks``); with ``figure``, a PNG of
    the three pages the model cleaned worst (noisy | cleaned | truth, the marks outlined) is written there.
    ``generator="other"`` scores pages of :mod:`scratchdae.documents.other_pages`, a second generator
    drawn differently on purpose and never used in training (``fonts`` and ``backgrounds`` are then the
    main generator's choices, and must be left out). ``stride``, ``keep_paper``, ``text_height``,
    ``light_on_dark`` and ``tidy`` clean another way than the model file's own
    (:meth:`~scratchdae.documents.stacked.PageCleaner.cleaning`); the result names the cleaning used
    (``cleaning``). ``ocr`` also reads every page with tesseract and scores each method's
    reading against the clean page's (:func:`score_pages`). ``figure`` is never one of the files read (the model,
    a page of ``data_dir``), and replaces a file that exists only with ``overwrite``."""
    from .generate import MAX_PAGES

    pages, seed = as_int(pages), as_int(seed)  # NumPy integers are fine
    try:
        seed = check_seed(seed)
    except ValueError as err:
        raise ValueError(str(err).replace("seed=0", "--seed 12345")) from None
    if data_dir is None and (not isinstance(pages, int) or isinstance(pages, bool) or not 1 <= pages <= MAX_PAGES):
        raise ValueError(f"pages must be an integer from 1 to {MAX_PAGES:,}, got {pages!r}. Fix: --pages 20.")
    if generator not in ("main", "other"):
        raise ValueError(f"generator must be 'main' or 'other', got {generator!r}.")
    if generator == "other" and (fonts or backgrounds or data_dir is not None):
        raise ValueError("the other generator draws its own fonts and damage, and does not read folders: fonts, "
                         "backgrounds and data_dir choose the main generator's pages. Fix: drop them, "
                         "or drop generator='other'.")
    if figure is not None:  # before any page is scored
        from ..files import check_outputs, check_png_name

        check_png_name(figure, "figure")
        check_outputs([figure], files_read(model_path, data_dir), overwrite, "figure")
    cleaner = load_cleaner(model_path, backend, stride=stride, keep_paper=keep_paper, text_height=text_height,
                           light_on_dark=light_on_dark, tidy=tidy)
    if data_dir is not None:
        pairs, meta, near_marks = read_pairs(kaggle_pairs(data_dir)), None, None
        source = f"{Path(data_dir)} (train/ vs train_cleaned/)"
    else:
        if generator == "other":
            from .other_pages import other_pages

            made = other_pages(pages, seed)
            source = f"{pages} pages of the second generator (other_pages), seed {seed}"
        else:
            made = make_pages(pages, seed, "test", fonts, backgrounds)
            source = (f"{pages} generated pages, seed {seed}, fonts {fonts or 'all'}, "
                      f"backgrounds {backgrounds or 'all'}")
        pairs, meta, near_marks = [p.floats() for p in made], [p.meta for p in made], [p.marks for p in made]
    others = {"first stage alone": cleaner.first_stage()} if len(cleaner.stages) > 1 else None
    if ocr and not tesseract_available():
        raise Unavailable(INSTALL)  # before any page is made
    result = score_pages(pairs, cleaner, log, meta, near_marks, others, ocr=ocr)
    result["source"] = source
    result["cleaning"] = {"stride": cleaner.stages[0].spec.stride, "text_heights": list(cleaner.text_heights),
                          "text_height": text_height or "estimated", "tidy": "yes" if cleaner.tidy else "no",
                          **({"keep_paper": cleaner.stages[1].spec.keep_paper} if len(cleaner.stages) > 1 else {})}
    if figure is not None:
        from .figures import worst_pages_figure

        rows = [(pairs[i][0], cleaner(pairs[i][0]), pairs[i][1], _page_label(i, meta), near_marks[i] if near_marks else None)
                for i in worst_pages(result)]
        result["figure"] = str(worst_pages_figure(figure, rows))
    return result


def files_read(model_path: str | Path, data_dir: str | Path | None) -> list[str | Path]:
    """The files an evaluation reads, which none of its outputs may replace: the model file and, from a Kaggle
    folder, every page of train/ and train_cleaned/."""
    files = [model_path] if isinstance(model_path, (str, os.PathLike)) else []
    if is_kaggle_folder(data_dir):
        files += [*page_files(Path(data_dir) / "train"), *page_files(Path(data_dir) / "train_cleaned")]
    return files


def _page_label(i: int, meta: list[dict[str, Any]] | None) -> str:
    """Page i's name in a figure: its number, and with the generator's record its font, size and paper."""
    if meta is None:
        return f"page {i + 1}"
    m = meta[i]
    if m.get("generator") == "other":
        return f"page {i + 1}: {m['font']} ({m['font_family']}, {m['font_px']} px), {', '.join(m['damages'])}"
    return f"page {i + 1}: {m['font']} ({m['font_family']}, {m['size']}), {m['background']}"
