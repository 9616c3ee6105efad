"""Do no harm: the ink a model drew that is unlike text is made paper (scratchdae/documents/tidy.py)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from scratchdae.documents.generate import make_page
from scratchdae.documents.scale import components, runs, text_height
from scratchdae.documents.tidy import NEAR, RULE, tidy, unlike_text


def letters(h=10):
    """A white page with three 'words' of letter-like blocks, each letter h tall and h/2 wide, 2 pixels apart."""
    page = np.ones((120, 300), np.float32)
    for top, left in ((20, 20), (50, 20), (80, 140)):
        for k in range(6):
            x = left + k * (h // 2 + 2)
            page[top:top + h, x:x + 2] = 0.1  # a stem
            page[top:top + 2, x:x + h // 2] = 0.1  # a bar along its top
    return page


def test_components_label_each_run():
    mask = np.random.default_rng(0).random((30, 40)) < 0.3
    c = components(mask)
    rows, starts, ends = runs(mask)
    assert len(c["run_label"]) == len(rows)
    # each component's area is the sum of its runs' lengths, and its top is its highest run's row
    np.testing.assert_array_equal(np.bincount(c["run_label"], ends - starts), c["area"])
    top = np.full(len(c["area"]), 99)
    np.minimum.at(top, c["run_label"], rows)
    np.testing.assert_array_equal(top, c["top"])


def test_rules_longer_than_five_text_heights_are_made_paper_and_letters_are_not():
    page = letters()
    assert not unlike_text(page, 10).any()  # letters, and words of them 6 letters long, are text
    marked = page.copy()
    marked[100, 5:295] = 0.0  # a rule across the page, below the text
    marked[5:115, 250] = 0.3  # a grey vertical streak
    marked[30, 200:200 + int(RULE * 10) - 2] = 0.0  # a dash a little shorter than a rule: kept
    got = tidy(marked, 10)
    np.testing.assert_array_equal(got[100], 1)
    np.testing.assert_array_equal(got[5:115, 250], 1)
    np.testing.assert_array_equal(got[30, :250], marked[30, :250])
    np.testing.assert_array_equal(got[:90, :190], page[:90, :190])  # the letters as they were


def test_a_rule_through_a_line_of_text_keeps_the_letters_it_crosses():
    page = letters()
    crossed = page.copy()
    crossed[24:26, :] = 0.0  # a streak 2 pixels thick through the first word's stems
    got = tidy(crossed, 10)
    stems = page[24] < 0.5
    np.testing.assert_array_equal(got[24:26, stems], 0.0)  # where a stem crosses it, the ink stays
    np.testing.assert_array_equal(got[24:26, ~stems], 1.0)  # elsewhere the streak is gone


def test_lone_specks_go_and_dots_beside_ink_stay():
    page = letters()
    page[30, 60:100:4] = 0.1  # a leader: dots 4 pixels apart, after the first word
    page[60, 70] = 0.1  # a full stop just after the second word's last letter
    speckled = page.copy()
    speckled[110, 200] = speckled[10, 280:282] = 0.2  # dust, far from any ink
    got = tidy(speckled, 10)
    np.testing.assert_array_equal(got, page)
    # a speck is lone when nothing lies within NEAR text heights of it
    near = page.copy()
    near[60, 60 + int(NEAR * 10) - 2] = 0.1
    np.testing.assert_array_equal(tidy(near, 10), near)


def test_clean_generated_pages_are_left_as_they_are():
    for i in range(6):
        clean = make_page([31, i]).floats()[1]
        assert unlike_text(clean, text_height(clean)).sum() <= 0.001 * clean.size


@given(arrays(np.float32, st.tuples(st.integers(1, 30), st.integers(1, 30)), elements=st.floats(0, 1, width=32)),
       st.floats(1, 40))
def test_tidy_only_ever_lightens_to_paper(page, h):
    got = tidy(page, h)
    changed = got != page
    assert (got[changed] == 1).all() and (page[changed] < 0.9).all()
    assert got.dtype == page.dtype and got.shape == page.shape


def test_tidy_refuses_what_it_cannot_read():
    with pytest.raises(ValueError, match="must be \\(H, W\\)"):
        tidy(np.ones((2, 3, 3)), 10)
    for bad in (0, -1, float("nan"), "10", True, None):
        with pytest.raises(ValueError, match="text_height must be a positive number"):
            tidy(np.ones((5, 5)), bad)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from scratchdae.documents import train_cleaner

    out = tmp_path_factory.mktemp("tidy") / "m"
    train_cleaner(out=out, stages=1, pages=4, windows_per_page=600, epochs=1, hidden=(16,), quiet=True, figures=False)
    return out / "model.npz"


def test_the_cleaner_tidies_after_its_last_stage_unless_told_not_to(model):
    from scratchdae.documents.stacked import load_cleaner

    noisy, _ = make_page([32, 2]).floats()
    noisy[noisy.shape[0] // 2, :] = 0.05  # a dark streak across the page
    cleaner = load_cleaner(model)
    raw = cleaner.cleaning(tidy=False)(noisy)
    got = cleaner(noisy)
    made_paper = unlike_text(raw, text_height(noisy))
    assert made_paper[noisy.shape[0] // 2].mean() > 0.5  # most of the streak the model drew
    np.testing.assert_array_equal(got[made_paper], 1)
    np.testing.assert_array_equal(got[~made_paper], raw[~made_paper])
    assert load_cleaner(model, tidy="no").tidy is False and load_cleaner(model).first_stage().tidy
    with pytest.raises(ValueError, match="--tidy maybe: tidy must be True or False"):
        load_cleaner(model, tidy="maybe")
