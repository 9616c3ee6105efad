r"""The settings of a documents run: which pages, which windows, one stage or two.

The core's :class:`scratchdae.run.config.TrainConfig` holds what every run has
(the network, the optimizer, the folder); :class:`DocumentsConfig` holds what
only a documents run has. ``scratchdae documents train`` has one option for
each field of both. The window sizes and the paper threshold are checked by
the object that uses them, :class:`~scratchdae.documents.windows.WindowSpec`;
this module says which option to change.
"""
import os
from dataclasses import asdict, dataclass, fields
from typing import Any

from ..run.config import normalise_fields, setting
from .generate import BACKGROUNDS, FONT_FAMILIES, MAX_PAGES
from .windows import REMOVED, WindowSpec

FIRST_STAGE_FOLDER = "first-stage"  # two stages: where the first stage's run lives, inside the second's
FIRST_VIEW = 7  # a second stage's coarse grid over the first stage's output: 9 means 7 pixels apart, 63x63 pixels
KEEP_PAPER = 0.99  # a second stage keeps the first stage's patch where the first's window is all this bright (PG3)
MAX_WINDOWS_PER_PAGE = 100_000

# How a trained model cleans a page: options of the commands that clean (denoise, documents evaluate and submit),
# which override what the model file records or what is estimated on the page. Training learns the same weights
# whatever they are (docs/documents.md, "Cleaning settings").
CLEANING = {
    "stride": dict(type=int, metavar="N", help="pixels between windows, 1 to the patch size: larger is faster and "
                   "a little worse (docs/documents.md; default: the model file's, 2)"),
    "keep_paper": dict(type=float, metavar="TAU", help="a stacked model's second stage keeps the first stage's "
                       "patch where its window is all at least this bright; 0: run it everywhere (default: the "
                       f"model file's, {KEEP_PAPER})"),
    "text_height": dict(type=float, metavar="PX", help="the pages' text height in pixels (the median height of "
                        "their letters; a page whose text is much smaller or larger than the training pages' is "
                        "cleaned resampled to their size); default: estimated on each page"),
    "light_on_dark": dict(choices=("yes", "no"), help="yes: the pages are light text on dark paper (cleaned as "
                          "their negatives); no: they are not; default: told on each page"),
    "tidy": dict(choices=("yes", "no"), help="yes: what the model inked that is unlike text, straight rules over five "
                 "text heights long and lone specks, is made paper (docs/documents.md); no: keep it, e.g. the rules "
                 "of a table or form (default: yes)"),
}

# The core settings' defaults for documents. The dirt on a page is the corruption: no added noise; windows are
# small, so batches are large; chosen on held-out fonts and paper (docs/documents.md): the cosine schedule runs its
# full course.
TRAIN_DEFAULTS = dict(noise="none", hidden=(512, 256), batch_size=256, epochs=30, lr=2e-3, lr_schedule="cosine",
                      patience=0)


@dataclass
class DocumentsConfig:
    """The settings only a documents run has; ``scratchdae documents train`` has one option for each."""

    pages: int = setting(96, "generated training pages", "documents", type=int)
    windows_per_page: int = setting(5000, "training windows sampled from each page", "documents", type=int)
    window: int = setting(9, "input window size, odd", "documents", type=int)
    patch: int = setting(5, "clean patch predicted per window, odd", "documents", type=int)
    stride: int = setting(2, "pixels between windows when cleaning, at most patch: recorded in the model file as "
                          "its default; training learns the same weights at any stride", "documents", option=False)
    mark_windows: float = setting(None, "share of each generated page's training windows taken near marks that are "
                                  "not text (creases, rims), in [0, 0.5]; 0.25, and 0 with --data-dir", "documents",
                                  type=float)
    stages: int = setting(None, "1, or 2 for a stacked cleaner: a first stage (in OUT/first-stage), then a second "
                          "that reads its cleaned pages, both saved in OUT/model.npz; --epochs and --max-seconds "
                          "apply to each stage, and with --resume --epochs to the second alone (the first keeps the "
                          "epochs it was started with, wherever the run stopped); 2", "documents", type=int)
    first_stage: str = setting(None, "train a second stage that reads this document model's cleaned pages beside "
                               "the noisy ones (a stacked cleaner, saved as one model file with its first stage); it "
                               "trains on pages the first stage did not", "documents", type="path", metavar="MODEL")
    keep_paper: float = setting(None, "second stage: where every pixel of the first stage's cleaned window is at "
                                "least this bright, keep the first stage's patch and do not run the second network "
                                f"there; 0: run it everywhere; {KEEP_PAPER}; recorded in the model file as its "
                                "default", "documents", option=False)
    fonts: str = setting(None, f"font families of generated pages: {','.join(FONT_FAMILIES)} (all)", "documents")
    backgrounds: str = setting(None, f"background families of generated pages: {','.join(BACKGROUNDS)} (all)",
                               "documents")
    clutter: bool = setting(False, "add to the generated noisy pages marks that are not text and that no background "
                            "draws (straight lines, specks, pen strokes), for the model to learn to remove",
                            "documents")
    variety: bool = setting(False, "draw the generated pages' text at any size (not only whole pixels), with "
                            "heavier and lighter strokes and ink that bled into the paper", "documents")
    wide_sizes: bool = setting(False, "draw the generated pages' text at sizes from 9 to 44 pixels (the default: 13 to "
                               "28), so that fewer pages need resampling to the training text size", "documents")

    def __post_init__(self):
        normalise_fields(self)  # NumPy numbers are fine; the settings are saved as JSON
        if self.first_stage is not None:
            if not str(self.first_stage).strip():
                raise ValueError("first_stage is empty. Fix: --first-stage FILE, or leave it out.")
            # a model you give is saved as an absolute path, so the run resumes from any working folder
            try:
                self.first_stage = os.path.abspath(os.fspath(self.first_stage))
            except FileNotFoundError:  # os.getcwd(): the current folder was deleted
                raise ValueError(f"--first-stage {self.first_stage} is a relative path, and the current folder no "
                                 "longer exists (it was deleted or moved), so it leads nowhere. Fix: cd to an "
                                 "existing folder, or give the model's absolute path.") from None
        if self.stages is None:
            self.stages = 2
        if not isinstance(self.stages, int) or isinstance(self.stages, bool) or self.stages not in (1, 2):
            raise ValueError(f"stages must be 1 or 2, got {self.stages!r}. Fix: --stages 2 for a stacked cleaner.")
        if self.first_stage and self.stages != 2:
            raise ValueError(f"--first-stage trains the second of two stages, and --stages {self.stages} was given. "
                             "Fix: drop --stages.")
        if self.stages == 1 and self.keep_paper is not None and not self.first_stage:
            raise ValueError("keep_paper would be ignored here (it sets how a second stage reads the first, and "
                             "this run trains one stage). Fix: drop it; it is a setting of cleaning too (--keep-paper "
                             "of the commands that clean).")
        if self.stages == 2 and self.keep_paper is None:
            self.keep_paper = KEEP_PAPER
        for name, most in (("pages", MAX_PAGES), ("windows_per_page", MAX_WINDOWS_PER_PAGE)):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}. "
                                 f"Fix: --{name.replace('_', '-')} N with N >= 1.")
            if v > most:
                raise ValueError(f"{name} must be at most {most:,}, got {v:,}. "
                                 f"Fix: --{name.replace('_', '-')} {FIELDS[name].default}.")
        if self.mark_windows is not None and (not isinstance(self.mark_windows, float)
                                              or not 0.0 <= self.mark_windows <= 0.5):
            raise ValueError(f"mark_windows must be a share in [0, 0.5] (half of the windows are near ink), got "
                             f"{self.mark_windows!r}. Fix: e.g. --mark-windows 0.25.")
        for first in {False, self.stages == 2}:  # the window sizes, checked by the WindowSpec that uses them
            self.spec(first)

    def on_folder(self, data_dir: str | None) -> "DocumentsConfig":
        """The settings checked against the data: a Kaggle folder's pages (``data_dir``) are not generated, and do
        not say where their marks are (``mark_windows`` 0)."""
        if data_dir is None:
            if self.mark_windows is None:
                self.mark_windows = 0.25
            return self
        if self.mark_windows:
            raise ValueError("--mark-windows needs to know where a page's marks are, which only generated pages "
                             "record. Fix: drop --mark-windows, or train on generated pages.")
        self.mark_windows = 0.0
        return self

    def spec(self, second: bool) -> WindowSpec:
        """The run's window sizes (``second``: of a second stage, which reads a first stage's output), their
        errors in the command line's words."""
        try:
            return WindowSpec(window=self.window, patch=self.patch, stride=self.stride,
                              first_view=FIRST_VIEW if second else 0,
                              keep_paper=(self.keep_paper or 0.0) if second else 0.0)
        except ValueError as err:
            raise ValueError(f"--window {self.window}, --patch {self.patch}, stride {self.stride}, keep_paper "
                             f"{self.keep_paper}: {str(err).replace('window=', '--window ').replace('patch=', '--patch ')}"
                             ) from None

    def saved(self) -> dict[str, Any]:
        """The settings as JSON-able data, as a run's files keep them."""
        return asdict(self)


FIELDS = {f.name: f for f in fields(DocumentsConfig)}
# Settings scratchdae does not have, with the values a saved run may hold them at (off, or the value the code
# fixes): the three window features measured as changing nothing (docs/documents.md), the
# machine's own fonts (pages that differ between machines), and the spacing of a second stage's view of the first.
GONE = {**dict.fromkeys(REMOVED, (0,)), "system_fonts": (False,), "first_view": (None, FIRST_VIEW)}


def from_saved(saved: dict[str, Any], where: str) -> DocumentsConfig:
    """The documents settings a run saved (``saved`` holds them, maybe among the core's): a run that saved no
    ``stages`` has one stage; a second stage that saved no ``keep_paper`` keeps no paper. A setting that is
    gone (GONE) is refused when it was on."""
    for name, kept in GONE.items():
        if saved.get(name, kept[0]) not in kept:
            raise ValueError(f"{where} was trained with {name}={saved[name]!r}, a setting scratchdae no longer has "
                             "(docs/documents.md). Fix: start a new run in another --out folder.")
    settings = {k: v for k, v in saved.items() if k in FIELDS}
    if "stages" not in saved:
        settings["stages"] = 1  # no stages saved: one stage
    if (settings.get("first_stage") or settings.get("stages") == 2) and "keep_paper" not in saved:
        settings["keep_paper"] = 0.0  # no keep_paper saved: the second stage runs everywhere
    if settings.get("stages") == 1 and not settings.get("first_stage"):
        settings["keep_paper"] = None
    return DocumentsConfig(**settings)
