r"""OCR as a measure: how well a cleaned page reads, the way its user judges it.

A page is cleaned so that people and OCR can read it, and RMSE says little
about that: a faint stroke kept and a crisp black streak invented cost about
the same pixels. So the page is read by tesseract (through ``pytesseract``,
the extra ``scratchdae[ocr]``) and its text compared with tesseract's reading
of the clean page, by the edit distance:

    d(a, b) = the fewest insertions, deletions and substitutions that turn a into b   (E1)
    CER = d(chars of the reading, chars of the reference) / chars of the reference      (E2)
    WER = d(words of the reading, words of the reference) / words of the reference      (E3)
    order-free WER = the same with words moved for free: max(words missing, words extra)  (E4)

The first two count the order of the text too (a page of two columns read
across them scores badly though every word is read); the last tells what
was read from the order it was read in. Over several pages the edits and
the lengths are summed before dividing, so a long page weighs by its length. The edit distance is written here, as a
short dynamic program (docs/derivations.md has its recurrence), with one
row of the table at a time in NumPy.
"""
import os
import shutil
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..backend import Unavailable

INSTALL = ("OCR needs the tesseract program with its English data, and pytesseract. Fix: apt-get install "
           "tesseract-ocr (or brew install tesseract), then pip install 'scratchdae[ocr]'.")


def edit_distance(a: Sequence, b: Sequence) -> int:
    """d(a, b) (E1): the Levenshtein distance between two sequences (strings, or lists of words).

    The table D[i, j] = d(a[:i], b[:j]) is filled one row at a time:

        D[i, j] = min(D[i-1, j] + 1, D[i-1, j-1] + [a[i-1] != b[j-1]], D[i, j-1] + 1)

    The first two terms come from the row above (A[j] below); the third chains
    along the row, and D[i, j] = min over k <= j of A[k] + (j - k) solves it:
    j + the running minimum of A[k] - k.
    """
    if len(a) < len(b):
        a, b = b, a  # the rows as short as can be
    if not b:
        return len(a)
    codes = {}
    try:
        a_ids = np.array([codes.setdefault(t, len(codes)) for t in a])
        b_ids = np.array([codes.setdefault(t, len(codes)) for t in b])
    except TypeError:
        raise TypeError("edit_distance compares sequences of characters or words (strings, or lists of strings); "
                        f"got items of types {sorted({type(t).__name__ for t in [*a, *b]})}. Fix: "
                        "edit_distance(text, text) or edit_distance(text.split(), text.split()).") from None
    j = np.arange(len(b) + 1)
    row = j.copy()  # D[0, j] = j: j insertions
    for i in range(1, len(a) + 1):
        above = np.empty_like(row)
        above[0] = i  # D[i, 0] = i: i deletions
        above[1:] = np.minimum(row[1:] + 1, row[:-1] + (b_ids != a_ids[i - 1]))
        row = j + np.minimum.accumulate(above - j)  # (E1)
    return int(row[-1])


def words(text: str) -> list[str]:
    """The words of a reading, split at any white space."""
    return text.split()


def chars(text: str) -> str:
    """The characters of a reading with its white space made one space (line breaks and runs of spaces are
    layout, which the two readings may lay out differently)."""
    return " ".join(text.split())


def error_rates(readings: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """CER (E2), WER (E3) and the order-free WER (E4) of readings against references, page by page,
    summed over the pages before dividing; with the edits and lengths they come from. A reference with no
    text counts every character read as an error (divided by 1, not 0)."""
    if isinstance(readings, str) or isinstance(references, str):
        raise TypeError("readings and references must be lists of texts, one a page, got a text. Fix: "
                        "error_rates([reading], [reference]).")
    if len(readings) != len(references):
        raise ValueError(f"{len(readings)} readings for {len(references)} references: one reading a page.")
    ce = sum(edit_distance(chars(r), chars(t)) for r, t in zip(readings, references))
    cn = sum(len(chars(t)) for t in references)
    we = sum(edit_distance(words(r), words(t)) for r, t in zip(readings, references))
    wn = sum(len(words(t)) for t in references)
    oe = sum(order_free_edits(r, t) for r, t in zip(readings, references))
    return {"cer": ce / max(cn, 1), "wer": we / max(wn, 1), "order_free_wer": oe / max(wn, 1),  # (E2)-(E4)
            "char_edits": ce, "chars": cn, "word_edits": we, "words": wn, "order_free_edits": oe}


def order_free_edits(reading: str, reference: str) -> int:
    """The word edits that turn a reading into its reference when words may move for free (E4): the larger of
    the reference's words missing from the reading and the reading's words the reference lacks, counted with
    their multiplicity."""
    a, b = Counter(words(reading)), Counter(words(reference))
    return max(sum((b - a).values()), sum((a - b).values()))  # (E4): max(m, e)


def tesseract_available() -> bool:
    """Whether pages can be read here: the pytesseract module, and the tesseract program with its English data."""
    try:
        import pytesseract
    except ImportError:
        return False
    if shutil.which("tesseract") is None:
        return False
    try:
        return "eng" in pytesseract.get_languages()
    except (OSError, RuntimeError):  # a tesseract that cannot run
        return False


def read_texts(pages: Sequence[np.ndarray], psm: int = 3) -> list[str]:
    """Tesseract's reading of each page, one tesseract process a core at a time (each told to use one thread,
    so that they do not fight over the cores)."""
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # read by each tesseract process this one starts
    with ThreadPoolExecutor(max_workers=max(1, min(len(pages), os.cpu_count() or 1))) as pool:
        return list(pool.map(lambda page: read_text(page, psm), pages))


def read_text(page: np.ndarray, psm: int = 3) -> str:
    """Tesseract's reading of a page (H, W) in [0, 1] (English, automatic page layout: ``psm`` 3)."""
    if not tesseract_available():
        raise Unavailable(INSTALL)
    import pytesseract
    from PIL import Image

    page = np.asarray(page)
    if page.ndim != 2:
        raise ValueError(f"a page to read must be a grayscale (H, W) array, got shape {page.shape}.")
    if 0 in page.shape or not np.isfinite(page).all() or page.min() < 0 or page.max() > 1:
        raise ValueError(f"a page to read must be a non-empty (H, W) array of pixels in [0, 1], got shape "
                         f"{page.shape}. Fix: divide 8-bit pixels by 255.")
    image = Image.fromarray(np.round(page * 255).astype(np.uint8))
    try:
        return pytesseract.image_to_string(image, lang="eng", config=f"--psm {int(psm)}")
    except (pytesseract.TesseractError, OSError) as err:
        raise Unavailable(f"tesseract could not read a page ({str(err).strip()[:200]}). {INSTALL}") from None
