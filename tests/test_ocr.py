"""OCR as a measure: the edit distance (E1), CER (E2), WER (E3), the order-free WER (E4), and tesseract's readings."""
import itertools
import json
import os
import subprocess
import sys
from functools import lru_cache

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchdae.documents.ocr import (chars, edit_distance, error_rates, order_free_edits, tesseract_available,
                                     words)

needs_tesseract = pytest.mark.skipif(not tesseract_available(), reason="tesseract and pytesseract are not installed")


def slow_distance(a, b):
    """The edit distance by its definition, memoised: the fewest edits over every way of lining a and b up."""
    @lru_cache(maxsize=None)
    def d(i, j):
        if i == 0 or j == 0:
            return i + j
        return min(d(i - 1, j) + 1, d(i, j - 1) + 1, d(i - 1, j - 1) + (a[i - 1] != b[j - 1]))
    return d(len(a), len(b))


def test_known_distances():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("flaw", "lawn") == 2
    assert edit_distance("", "abc") == edit_distance("abc", "") == 3
    assert edit_distance("same", "same") == 0
    assert edit_distance(["the", "cat", "sat"], ["the", "sat"]) == 1  # words are symbols too
    with pytest.raises(TypeError, match="sequences of characters or words.*got items of types \\['list'\\]"):
        edit_distance([["the"]], [["cat"]])


texts = st.text(alphabet="ab c\n", max_size=12)


@given(texts, texts)
def test_the_row_at_a_time_program_equals_the_definition(a, b):
    assert edit_distance(a, b) == slow_distance(a, b) == edit_distance(b, a)


@given(texts, texts, texts)
def test_the_distance_is_a_metric(a, b, c):
    assert edit_distance(a, c) <= edit_distance(a, b) + edit_distance(b, c)
    assert (edit_distance(a, b) == 0) == (a == b)
    assert abs(len(a) - len(b)) <= edit_distance(a, b) <= max(len(a), len(b))


def test_error_rates_sum_edits_over_pages_before_dividing():
    r = error_rates(["abc", "hello world"], ["abd", "hello  big\nworld"])
    # page 1: 1 edit in 3 chars; page 2: "hello world" vs "hello big world": 4 edits in 15 chars
    assert (r["char_edits"], r["chars"]) == (1 + 4, 3 + 15)
    assert r["cer"] == pytest.approx(5 / 18)
    assert (r["word_edits"], r["words"]) == (1 + 1, 1 + 3) and r["wer"] == pytest.approx(2 / 4)
    assert chars(" a \n\n b ") == "a b" and words(" a \n b ") == ["a", "b"]
    assert error_rates(["invented"], [""])["cer"] == 8  # nothing to read: every character is an error
    with pytest.raises(ValueError, match="2 readings for 1 references"):
        error_rates(["a", "b"], ["a"])


def test_the_order_free_word_error_rate_counts_what_was_read_in_any_order():
    assert order_free_edits("two columns read across", "read across two columns") == 0
    assert order_free_edits("a b c", "a x") == 2  # x missing, b and c extra: one substitution, one deletion
    r = error_rates(["right left", "a b c"], ["left right", "a x"])
    assert (r["order_free_edits"], r["words"]) == (0 + 2, 2 + 2) and r["order_free_wer"] == pytest.approx(2 / 4)
    assert r["wer"] == pytest.approx((2 + 2) / 4)  # in order, the swapped columns cost two edits


@given(st.lists(st.sampled_from("abc"), max_size=5), st.lists(st.sampled_from("abcd"), max_size=5))
def test_order_free_edits_are_the_edit_distance_after_the_best_reordering(a, b):
    best = min(edit_distance(list(p), b) for p in itertools.permutations(a))
    assert order_free_edits(" ".join(a), " ".join(b)) == best <= edit_distance(a, b)


@pytest.fixture(scope="module")
def page():
    from scratchdae.documents.generate import make_page

    return make_page(3).floats()


@needs_tesseract
def test_tesseract_reads_a_clean_page_the_same_each_time_and_a_blank_page_as_nothing(page):
    from scratchdae.documents.ocr import read_text

    noisy, clean = page
    reference = read_text(clean)
    assert len(words(reference)) > 20
    assert error_rates([read_text(clean)], [reference])["cer"] == 0
    assert error_rates([read_text(np.ones_like(clean))], [reference])["cer"] == 1.0
    assert 0 < error_rates([read_text(noisy)], [reference])["cer"] < 1.0


@needs_tesseract
def test_evaluate_ocr_reports_every_method_page_by_page(tmp_path):
    from scratchdae.documents import train_cleaner

    train_cleaner(out=tmp_path / "m", stages=1, pages=3, windows_per_page=800, epochs=1, hidden=(16,), quiet=True,
                  figures=False)
    r = subprocess.run([sys.executable, "-m", "scratchdae.cli", "documents", "evaluate", "--model",
                        tmp_path / "m" / "model.npz", "--pages", "2", "--ocr", "--json"], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    ocr = json.loads(r.stdout)["ocr"]
    methods = {"noisy page", "global threshold", "median background subtraction", "model"}
    assert set(ocr["cer"]) == set(ocr["wer"]) == methods and len(ocr["pages"]) == 2
    assert ocr["chars"] == sum(p["chars"] for p in ocr["pages"]) > 0
    for m in methods:  # overall: each page's edits (its CER times its length), summed, over the total length
        edits = sum(p[m]["cer"] * p["chars"] for p in ocr["pages"])
        assert ocr["cer"][m] == pytest.approx(edits / ocr["chars"])
    r = subprocess.run([sys.executable, "-m", "scratchdae.cli", "documents", "evaluate", "--model",
                        tmp_path / "m" / "model.npz", "--pages", "1", "--ocr", "--quiet"], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0 and "CER page by page" in r.stdout and "WER" in r.stdout, r.stderr


def test_without_tesseract_the_option_says_in_one_line_how_to_install_it(tmp_path):
    from scratchdae.documents import train_cleaner

    train_cleaner(out=tmp_path / "m", stages=1, pages=2, windows_per_page=300, epochs=1, hidden=(8,), quiet=True,
                  figures=False)
    env = {**os.environ, "PATH": os.path.dirname(sys.executable)}  # no tesseract on this PATH
    r = subprocess.run([sys.executable, "-m", "scratchdae.cli", "documents", "evaluate", "--model",
                        tmp_path / "m" / "model.npz", "--pages", "1", "--ocr"], capture_output=True, text=True,
                       timeout=600, env=env)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "apt-get install tesseract-ocr" in r.stderr and "scratchdae[ocr]" in r.stderr


def test_pages_whose_clean_page_reads_as_nothing_have_no_rate():
    from scratchdae.documents.evaluate import ocr_scores

    r = ocr_scores({"model": ["abc", "anything"], "noisy page": ["abd", ""]}, ["abc", "  \n"])
    assert r["unread"] == [1] and r["pages"][1]["model"] == {"cer": None, "wer": None, "order_free_wer": None}
    assert r["cer"] == {"model": 0.0, "noisy page": pytest.approx(1 / 3)}  # page 2 left out
    none = ocr_scores({"model": ["x"]}, [""])
    assert none["cer"] == {"model": None} and none["unread"] == [0]
    with pytest.raises(TypeError, match="lists of texts, one a page"):
        error_rates("abc", "abd")


@needs_tesseract
def test_a_tesseract_without_its_english_data_is_refused_in_one_line(tmp_path):
    from scratchdae.documents import train_cleaner

    train_cleaner(out=tmp_path / "m", stages=1, pages=2, windows_per_page=300, epochs=1, hidden=(8,), quiet=True,
                  figures=False)
    (tmp_path / "tessdata").mkdir()
    env = {**os.environ, "TESSDATA_PREFIX": str(tmp_path / "tessdata")}
    r = subprocess.run([sys.executable, "-m", "scratchdae.cli", "documents", "evaluate", "--model",
                        tmp_path / "m" / "model.npz", "--pages", "1", "--ocr"], capture_output=True, text=True,
                       timeout=600, env=env)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "English data" in r.stderr and "apt-get install tesseract-ocr" in r.stderr
