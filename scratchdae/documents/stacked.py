r"""A stacked page cleaner: a second dense DAE that reads the first one's output.

The stacked-DAE idea (Vincent et al. 2010) applied to pages. The first stage
cleans the page from 9x9 windows and gets most of it right; what it leaves is
what a small window cannot judge: a crease or a stain's rim looks like a
letter's stroke from 9 pixels away. The second stage reads, for every pixel,
the same windows of the noisy page and the first stage's cleaned page, both
as a window and as a coarse grid over a much wider view (63x63 pixels with
the defaults), where a leftover crease is a long line crossing the text, and
predicts the clean patch again:

    first = clean_page(stage 1, noisy)
    clean = clean_page(stage 2, noisy, first)

The second stage is trained on pages the first stage never trained on, and
its inputs there are the first stage's output computed exactly as at
cleaning time (:func:`first_stage_outputs`): it never sees better inputs in
training than in use, so it learns to correct the first stage's real
mistakes, not the smaller ones it makes on pages it has learned by heart.

A stacked model is one file: the second stage's ``model.npz`` holds the
first stage too (its header as ``first_stage``, its arrays under ``first/``).
"""
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..backend import Backend
from ..checkpoint import CheckpointError, load_npz, restore_model
from ..losses import Loss
from ..model import Autoencoder
from .scale import (GENERATED_TEXT_HEIGHTS, MAX_TEXT_HEIGHT, check_page, check_text_heights, clean_at_scale,
                    light_on_dark, text_height, training_scale)
from .tidy import tidy as tidy_page
from .windows import RemovedFeature, WindowSpec, clean_page

FIRST_STAGE_PREFIX = "first/"  # a stacked model file: its first stage's param/ and loss/ arrays under this prefix
EMBEDDED = {FIRST_STAGE_PREFIX: "first_stage"}  # ... and its first stage's header as this entry of the header


@dataclass(frozen=True)
class Stage:
    """One trained stage: its model, loss and window sizes."""

    model: Autoencoder
    loss: Loss
    spec: WindowSpec


class PageCleaner:
    """A trained document model as a function: ``cleaner(page)`` gives the cleaned page.

    One stage, or two: the first cleans the noisy page, the second reads the
    noisy page and the first's output (``spec.first_view``) and cleans it again.
    ``cleaner.first_stage()`` is the first stage alone, for measuring what the
    second one adds.

    A page whose text is shorter or taller than the training pages' text
    (``text_heights``, low and high, in pixels) is cleaned resampled to that
    range and resampled back (:mod:`.scale`); its text height is estimated on
    each page, or given (``text_height``). ``rescale`` False cleans every page
    as it is. Light text on dark paper is found on each page, or said
    (``light_on_dark`` True or False), and cleaned as its negative. With
    ``tidy`` the ink the model drew that is unlike text (straight rules, lone
    specks: :mod:`.tidy`) is made paper after the last stage.
    """

    def __init__(self, stages: Sequence[Stage], text_heights: tuple[float, float] = GENERATED_TEXT_HEIGHTS,
                 text_height: float | None = None, rescale: bool = True, light_on_dark: bool | None = None,
                 tidy: bool = True):
        given = stages
        stages = list(stages) if isinstance(stages, Iterable) and not isinstance(stages, (str, bytes)) else None
        if stages is None or not all(isinstance(s, Stage) for s in stages):
            raise TypeError(f"stages must be a list of one or two Stage(model, loss, spec), got {given!r:.80}. Fix: "
                            "read a cleaner from its model file with load_cleaner(path).")
        if not 1 <= len(stages) <= 2 or stages[0].spec.first_view or any(not s.spec.first_view for s in stages[1:]):
            raise ValueError("a cleaner is a first stage (spec.first_view == 0), optionally followed by a second stage "
                             f"that reads its output (spec.first_view > 0); got {[s.spec.first_view for s in stages]}.")
        self.stages = stages
        self.text_heights = check_text_heights(text_heights)
        if text_height is not None:
            if not isinstance(text_height, numbers.Real) or isinstance(text_height, bool) or not (
                    1 <= text_height <= MAX_TEXT_HEIGHT):
                raise ValueError(f"text_height must be a number of pixels from 1 to {MAX_TEXT_HEIGHT:,} (the median "
                                 f"height of the page's letters), got {text_height!r}. Fix: e.g. text_height=20, or "
                                 "leave it out.")
            text_height = float(text_height)
        flags = {"rescale": rescale, "light_on_dark": light_on_dark, "tidy": tidy}
        for name, flag in flags.items():
            flags[name] = flag = bool(flag) if isinstance(flag, np.bool_) else flag  # NumPy's booleans are fine
            if not isinstance(flag, bool) and not (name == "light_on_dark" and flag is None):
                raise TypeError(f"{name} must be True or False{' or None' if name == 'light_on_dark' else ''}, got "
                                f"{flag!r}.")
        self.text_height = text_height
        self.rescale, self.light_on_dark, self.tidy = flags["rescale"], flags["light_on_dark"], flags["tidy"]

    def __call__(self, page: np.ndarray) -> np.ndarray:
        """The cleaned page (H, W) in [0, 1]: each stage cleans the noisy page, the second also reading
        the first one's output; at the training text size (:meth:`scale_of`). Light text on dark paper
        is cleaned as its negative (dark text on light paper, as the model learned) and given back light
        on dark."""
        page = check_page(page)
        flip = light_on_dark(page) if self.light_on_dark is None else self.light_on_dark
        page = 1 - page if flip else page
        height = self._height(page)
        factor = training_scale(height, *self.text_heights) if self.rescale else 1.0
        cleaned = clean_at_scale(lambda p: self._clean(p, None if height is None else height * factor), page, factor)
        return 1 - cleaned if flip else cleaned

    def scale_of(self, page: np.ndarray) -> float:
        """The factor the page is resampled by before cleaning: 1 for text like the training pages'."""
        if not self.rescale:
            return 1.0
        return training_scale(self._height(page), *self.text_heights)

    def _height(self, page):
        """The page's text height: given, or estimated (None when the page holds too little ink to say)."""
        if self.text_height or not (self.rescale or self.tidy):
            return self.text_height
        return text_height(page)

    def _clean(self, page, height):
        out = None
        for s in self.stages:  # (PG2): first = Clean1(noisy), then Clean2(noisy, first)
            out = clean_page(s.model, s.loss, page, s.spec, first_output=out)
        if self.tidy:  # lengths in text heights; a page too bare to measure is taken for the training range's middle
            out = tidy_page(out, height if height is not None else sum(self.text_heights) / 2)
        return out

    def first_stage(self) -> "PageCleaner":
        """The first stage alone."""
        return PageCleaner(self.stages[:1], self.text_heights, self.text_height, self.rescale, self.light_on_dark,
                           self.tidy)

    def cleaning(self, stride: int | None = None, keep_paper: float | None = None, text_height: float | None = None,
                 rescale: bool | None = None, light_on_dark: bool | None = None,
                 tidy: bool | None = None) -> "PageCleaner":
        """The same trained stages, cleaning another way: ``stride``, pixels between windows in every stage (1 to
        the patch size; fewer windows, faster, a little worse), ``keep_paper``, the brightness tau above which
        the second stage keeps the first stage's patch (PG3; 0 runs it on every window), ``text_height``, the
        pages' text height in pixels instead of each page's estimate, ``rescale`` (False: every page as it
        is), ``light_on_dark`` (True or False instead of each page's own test) and ``tidy`` (False keeps
        the rules and specks the model drew). None keeps what it was. None of these changes what training
        learns, only how a page is cleaned (docs/documents.md)."""
        stages = self.stages
        if stride is not None:
            stages = [replace(s, spec=replace(s.spec, stride=stride)) for s in stages]
        if keep_paper is not None:
            if len(stages) < 2:
                raise ValueError("keep_paper sets how a second stage reads the first, and this model has one stage. "
                                 "Fix: drop --keep-paper, or use a stacked model (scratchdae documents train).")
            stages = [stages[0], replace(stages[1], spec=replace(stages[1].spec, keep_paper=keep_paper))]
        return PageCleaner(stages, self.text_heights, self.text_height if text_height is None else text_height,
                           self.rescale if rescale is None else rescale,
                           self.light_on_dark if light_on_dark is None else light_on_dark,
                           self.tidy if tidy is None else tidy)

    def __repr__(self) -> str:
        return f"PageCleaner({len(self.stages)} stage{'s' if len(self.stages) > 1 else ''})"


def load_cleaner(path: str | Path, backend: str | Backend | None = None, *, stride: int | None = None,
                 keep_paper: float | None = None, text_height: float | None = None,
                 light_on_dark: bool | str | None = None, tidy: bool | str | None = None) -> PageCleaner:
    """The cleaner in a model.npz trained on documents: one stage, or two stacked in one file; ``stride``,
    ``keep_paper``, ``text_height``, ``light_on_dark`` and ``tidy`` clean another way than the file's own
    (:meth:`PageCleaner.cleaning`)."""
    return cleaning_as_asked(_read(path, backend)[0], stride, keep_paper, text_height, light_on_dark, tidy)


def cleaning_as_asked(cleaner: PageCleaner, stride: int | None = None, keep_paper: float | None = None,
                      text_height: float | None = None, light_on_dark: bool | str | None = None,
                      tidy: bool | str | None = None) -> PageCleaner:
    """``cleaner.cleaning(...)`` with the settings as the command line gives them (``light_on_dark`` and
    ``tidy`` "yes" or "no" too), its errors in the words of the options."""
    given = {"stride": stride, "keep_paper": keep_paper, "text_height": text_height, "light_on_dark": light_on_dark,
             "tidy": tidy}
    light_on_dark, tidy = ({"yes": True, "no": False}.get(v, v) if isinstance(v, str) else v
                           for v in (light_on_dark, tidy))
    try:
        return cleaner.cleaning(stride, keep_paper, text_height, light_on_dark=light_on_dark, tidy=tidy)
    except (TypeError, ValueError) as err:
        words = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in given.items() if v is not None)
        for k in given:
            err = str(err).replace(f"{k}=", f"--{k.replace('_', '-')} ")
        raise ValueError(f"{words}: {err}") from None


def read_first_stage(path: str | Path, backend: str | Backend | None = None
                     ) -> tuple[PageCleaner, dict[str, Any], dict[str, np.ndarray]]:
    """A first stage to train a second one on: its cleaner, and the header entry and arrays that
    put it into the second stage's model file."""
    cleaner, header, arrays = _read(path, backend)
    if len(cleaner.stages) > 1:
        raise ValueError(f"{path} is already a stacked cleaner of two stages; a cleaner has at most two. Fix: pass "
                         "the model of a single stage (scratchdae documents train --stages 1).")
    return cleaner, {"first_stage": header}, {FIRST_STAGE_PREFIX + k: v for k, v in arrays.items()
                                              if k.startswith(("param/", "loss/"))}


def _read(path, backend):
    arrays, header = load_npz(path, kind="model", embedded=EMBEDDED)
    if header.get("task") != "documents":
        raise CheckpointError(f"{path} is a model of {header.get('task', 'images')}, not of documents. Fix: train one "
                              "with scratchdae documents train.")
    first = header.get("first_stage")
    if first is not None and (first.get("task") != "documents" or "first_stage" in first):
        why = ("is itself stacked: a cleaner has at most two stages" if "first_stage" in first else
               f"is a model of {first.get('task')!r}, and only document models are stacked")
        raise CheckpointError(f"{path} (its first stage) {why}. The file is damaged. Fix: retrain, or use an intact "
                              "copy.")
    model, loss = restore_model(arrays, header, backend, path)
    stages = [Stage(model, loss, _window_spec(header, path))]
    if "first_stage" in header:
        first = {k[len(FIRST_STAGE_PREFIX):]: v for k, v in arrays.items() if k.startswith(FIRST_STAGE_PREFIX)}
        where = f"{path} (its first stage)"
        m, lo = restore_model(first, header["first_stage"], model.backend, where)
        stages.insert(0, Stage(m, lo, _window_spec(header["first_stage"], where)))
    heights = _text_heights(header, path)
    try:
        return PageCleaner(stages, heights), header, arrays
    except ValueError as err:
        raise CheckpointError(f"{path}: its stages do not fit together ({err}). The file is damaged. Fix: retrain, "
                              "or use an intact copy.") from None


def _text_heights(header, path):
    """The text heights of a model's training pages, as its header records them (the main generator's when it
    records none)."""
    entry = header.get("text_height")
    if entry is None:
        return GENERATED_TEXT_HEIGHTS
    try:
        return check_text_heights((entry["low"], entry["high"]))
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(f"{path}: its text heights are invalid ({entry!r:.100}). The file is damaged. Fix: "
                              "retrain, or use an intact copy.") from None


def _window_spec(header, path):
    """A document model's window sizes, checked against what its architecture reads and gives."""
    try:
        spec = WindowSpec.from_config(header["window"])
    except RemovedFeature as err:
        raise CheckpointError(f"{path}: {err}") from None
    except (KeyError, TypeError, ValueError) as err:
        why = str(err).split(" Fix:")[0] if isinstance(err, ValueError) else repr(err)
        raise CheckpointError(f"{path}: its window sizes are missing or invalid ({why:.200}). The file is damaged. "
                              "Fix: retrain, or use an intact copy.") from None
    arch = header["architecture"]
    if (spec.n_features, spec.n_outputs) != (arch["n_in"], arch.get("n_out", arch["n_in"])):
        raise CheckpointError(f"{path}: its window sizes give {spec.n_features} inputs and {spec.n_outputs} outputs, "
                              f"and its network reads {arch['n_in']} and gives {arch.get('n_out', arch['n_in'])}. "
                              "The file is damaged. Fix: retrain, or use an intact copy.")
    return spec


def check_model_header(header: dict[str, Any], path: Any) -> None:
    """What save_model checks of a document model before writing it: window sizes that fit its network (and its
    first stage's), and valid text heights, as :func:`load_cleaner` reads them."""
    try:
        _window_spec(header, path)
        if "first_stage" in header:
            _window_spec(header["first_stage"], f"{path} (its first stage)")
        _text_heights(header, path)
    except CheckpointError as err:
        why = str(err).split(" The file is damaged")[0].rstrip(".")
        raise ValueError(f"{why}: a document model that the cleaner could not read, so it is not saved. Fix: give "
                         "save_model the window entry documents training gives it (window=WindowSpec(...).config()), "
                         "or train it with scratchdae documents train.") from None


def first_stage_outputs(cleaner: PageCleaner, pairs: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """The first stage's cleaned page for each (noisy, clean) pair, computed as at cleaning time (at the pages'
    own size: they are training pages)."""
    native = cleaner.cleaning(rescale=False, tidy=False)  # the first stage's own output, as the second reads it
    return [native(noisy) for noisy, _ in pairs]


def denoise_pages(model: Autoencoder, loss: Loss, header: dict[str, Any], path: list, backend: Any,
                  inputs: list[Path], out: Path, cleaning: dict[str, Any], overwrite: bool = False) -> list[Path]:
    """``scratchdae denoise`` for a document model: pages of any size, every page read and checked first, then
    cleaned, and written all or none (``path``: the model file's, in a list, or empty for a model given as
    (model, loss, header); ``cleaning``: ``stride`` and ``keep_paper``, as :meth:`PageCleaner.cleaning`; without
    ``overwrite``, a file of an output's name stops them all)."""
    from ..files import write_pngs
    from .pages import read_page

    if path:  # one stage or two
        cleaner = load_cleaner(path[0], backend)
    elif "first_stage" in header:
        raise ValueError("a stacked document model needs its first stage, which (model, loss, header) does not "
                         "hold. Fix: pass the model file's path.")
    else:
        try:
            spec = WindowSpec.from_config(header["window"])
        except RemovedFeature as err:
            raise ValueError(f"the model: {err}") from None
        cleaner = PageCleaner([Stage(model, loss, spec)], _text_heights(header, "the model"))
    cleaner = cleaning_as_asked(cleaner, **cleaning)
    pages = [read_page(p) for p in inputs]  # a bad file stops us before anything is written
    return write_pngs([(out / p.with_suffix(".png").name, np.round(cleaner(page) * 255).astype(np.uint8))
                       for p, page in zip(inputs, pages)], overwrite)
