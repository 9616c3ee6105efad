"""A page's text size, and cleaning at the size the model was trained on (scratchdae/documents/scale.py)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from scratchdae.documents.filters import resize
from scratchdae.documents.generate import make_page
from scratchdae.documents.scale import (GENERATED_TEXT_HEIGHTS, clean_at_scale, components, text_height,
                                        training_heights, training_scale)


def flood_fill_components(mask):
    """Each 8-connected component's (height, width, area), by flood fill: slow and plain."""
    H, W = mask.shape
    seen = np.zeros_like(mask)
    found = []
    for i in range(H):
        for j in range(W):
            if mask[i, j] and not seen[i, j]:
                stack, pixels = [(i, j)], []
                seen[i, j] = True
                while stack:
                    a, b = stack.pop()
                    pixels.append((a, b))
                    for x in range(a - 1, a + 2):
                        for y in range(b - 1, b + 2):
                            if 0 <= x < H and 0 <= y < W and mask[x, y] and not seen[x, y]:
                                seen[x, y] = True
                                stack.append((x, y))
                rows, cols = zip(*pixels)
                found.append((max(rows) - min(rows) + 1, max(cols) - min(cols) + 1, len(pixels)))
    return sorted(found)


@given(arrays(bool, st.tuples(st.integers(1, 12), st.integers(1, 12))))
def test_components_by_runs_equal_a_flood_fill(mask):
    c = components(mask)
    assert sorted(zip(c["height"].tolist(), c["width"].tolist(), c["area"].tolist())) == flood_fill_components(mask)


def test_components_join_diagonals_and_u_shapes():
    u = np.zeros((5, 7), bool)
    u[:, 1] = u[:, 5] = u[4, 1:6] = True  # a U: two runs in a row that join further down
    u[0, 0] = True  # beside the left arm: the same component
    u2 = np.eye(4, dtype=bool)  # a diagonal: one component, 4 tall
    assert components(u)["height"].tolist() == [5]
    assert components(u2)["height"].tolist() == [4] and components(u2)["area"].tolist() == [4]
    assert components(np.zeros((3, 3), bool))["height"].size == 0


def shrink_or_grow(page, f):
    return np.clip(resize(page, round(page.shape[0] * f), round(page.shape[1] * f)), 0, 1)


@pytest.mark.parametrize("seed", [0, 1, 3, 5])
def test_the_text_height_follows_the_text_on_noisy_pages_at_any_size(seed):
    noisy, clean = make_page([77, seed]).floats()
    h = text_height(clean)
    assert 5 <= h <= 16  # the generator's sizes: letters 6 to 15 pixels tall, as measured
    assert text_height(noisy) == pytest.approx(h, rel=0.3)  # the stains, creases and grain do not fool it
    assert text_height(shrink_or_grow(noisy, 2.5)) == pytest.approx(2.5 * h, rel=0.3)
    assert text_height(shrink_or_grow(noisy, 0.6)) == pytest.approx(0.6 * h, rel=0.35)


def test_blank_pages_have_no_text_height_and_big_pages_are_measured_shrunk():
    assert text_height(np.ones((200, 300), np.float32)) is None
    _, clean = make_page([77, 0]).floats()
    big = np.tile(shrink_or_grow(clean, 4), (2, 2))  # over MOST_PIXELS: measured on a shrunken copy
    assert big.size > 4_000_000
    assert text_height(big) == pytest.approx(4 * text_height(clean), rel=0.3)


def test_a_page_is_resampled_only_outside_the_training_range():
    low, high = 6.0, 15.0
    for h in (None, low, high, 10.0):
        assert training_scale(h, low, high) == 1.0
    assert training_scale(40.0, low, high) == pytest.approx(10.5 / 40)  # 2.5x large text: down to the middle
    assert training_scale(3.0, low, high) == pytest.approx(6 / 3)  # tiny text: up to the smallest
    for bad in (0, -3.0):
        with pytest.raises(ValueError, match="a text height must be a positive number of pixels"):
            training_scale(bad, low, high)
    page = np.random.default_rng(0).uniform(0, 1, (30, 41)).astype(np.float32)
    seen = []
    out = clean_at_scale(lambda p: seen.append(p.shape) or 1 - p, page, 0.5)
    assert seen == [(15, 20)] and out.shape == page.shape and out.dtype == np.float32
    np.testing.assert_array_equal(clean_at_scale(lambda p: 1 - p, page, 1.0), 1 - page)
    assert training_heights([np.ones((50, 50), np.float32)]) == dict(zip(("low", "high"), GENERATED_TEXT_HEIGHTS))


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from scratchdae.documents import train_cleaner

    out = tmp_path_factory.mktemp("scale") / "m"
    train_cleaner(out=out, stages=1, pages=4, windows_per_page=600, epochs=1, hidden=(16,), quiet=True, figures=False)
    return out / "model.npz"


def test_the_model_file_records_its_pages_text_heights_and_cleaning_uses_them(model, tmp_path):
    from scratchdae.checkpoint import load_npz, save_npz
    from scratchdae.documents.stacked import load_cleaner

    arrays, header = load_npz(model)
    low, high = header["text_height"]["low"], header["text_height"]["high"]
    assert 4 <= low <= high <= 17
    cleaner = load_cleaner(model)
    assert cleaner.text_heights == (low, high)
    noisy, _ = make_page([77, 1]).floats()
    big = shrink_or_grow(noisy, 3)
    assert cleaner.scale_of(noisy) == 1.0
    assert cleaner.scale_of(big) == pytest.approx((low + high) / 2 / text_height(big))
    assert cleaner.cleaning(text_height=high * 4).scale_of(noisy) == pytest.approx((low + high) / 2 / (high * 4))
    assert cleaner.cleaning(rescale=False).scale_of(big) == 1.0
    out = cleaner(big)
    assert out.shape == big.shape and 0 <= out.min() and out.max() <= 1
    header["text_height"] = {"low": 9, "high": 3}
    save_npz(tmp_path / "bad.npz", arrays, header)
    with pytest.raises(ValueError, match="its text heights are invalid"):
        load_cleaner(tmp_path / "bad.npz")
    del header["text_height"]  # a model file that records none: the main generator's range
    save_npz(tmp_path / "old.npz", arrays, header)
    assert load_cleaner(tmp_path / "old.npz").text_heights == GENERATED_TEXT_HEIGHTS
    with pytest.raises(ValueError, match="--text-height 0: text_height must be a number of pixels from 1"):
        load_cleaner(model, text_height=0)


def test_light_text_on_dark_paper_is_cleaned_as_its_negative_and_given_back_as_it_came(model):
    from scratchdae.documents.other_pages import make_other_page
    from scratchdae.documents.scale import light_on_dark
    from scratchdae.documents.stacked import load_cleaner

    pages = [make_page([78, i]).floats()[0] for i in range(6)] + [make_other_page([78, i]).floats()[0]
                                                                  for i in range(3)]
    assert not any(light_on_dark(p) for p in pages)
    assert all(light_on_dark(1 - p) for p in pages)
    cleaner = load_cleaner(model)
    np.testing.assert_allclose(cleaner(1 - pages[0]), 1 - cleaner(pages[0]), atol=1e-6)


def test_cleaning_refuses_pages_it_would_misread_in_one_line(model, tmp_path):
    from scratchdae.checkpoint import CheckpointError, load_npz, save_npz
    from scratchdae.documents.stacked import load_cleaner

    cleaner = load_cleaner(model)
    noisy, _ = make_page([77, 2]).floats()
    for page, words in ((np.round(noisy * 255).astype(np.float32), "divide them by 255"),
                        (noisy - 1, "must be floats in \\[0, 1\\]"), (noisy[None], "grayscale \\(H, W\\) array"),
                        (np.zeros((0, 5), np.float32), "grayscale \\(H, W\\) array")):
        with pytest.raises(ValueError, match=words):
            cleaner(page)
    with pytest.raises(ValueError, match="would resample the 30x40 page to 0x0 pixels.*--text-height"):
        cleaner.cleaning(text_height=1000)(noisy[:30, :40])
    arrays, header = load_npz(model)
    for bad in ({"low": 1e-300, "high": 1e-300}, {"low": True, "high": True}, {"low": 1e300, "high": 1e308},
                {"low": 9, "high": 3}, {"low": "a", "high": 3}, {"high": 3}):
        header["text_height"] = bad
        save_npz(tmp_path / "bad.npz", arrays, header)
        with pytest.raises(CheckpointError) as err:
            load_cleaner(tmp_path / "bad.npz")
        assert str(err.value).count("The file is damaged") == 1 and "its text heights are invalid" in str(err.value)


def test_the_polarity_test_is_not_fooled_by_faded_ink_or_dark_borders_and_can_be_overruled(model):
    from scratchdae.documents.scale import light_on_dark
    from scratchdae.documents.stacked import load_cleaner
    from scratchdae.documents.training import make_pages

    faded = make_pages(61, 0, "second", "serif,sans", "coffee,folded,wrinkled")[60].floats()[0]  # faded ink, sun
    noisy, _ = make_page([77, 2]).floats()                                                     # spots: once fooled
    bordered = np.concatenate([noisy, np.full_like(noisy, 0.05), np.full_like(noisy, 0.05)], axis=1)
    for page in (faded, noisy, bordered):
        assert not light_on_dark(page) and light_on_dark(1 - page)
    cleaner = load_cleaner(model)
    told = cleaner.cleaning(light_on_dark=True)(noisy)  # the user says the page is light on dark
    np.testing.assert_allclose(told, 1 - cleaner.cleaning(light_on_dark=False)(1 - noisy), atol=1e-6)
    assert np.allclose(load_cleaner(model, light_on_dark="yes")(1 - noisy), 1 - cleaner(noisy), atol=1e-6)
    with pytest.raises(ValueError, match="--light-on-dark maybe: light_on_dark must be True or False or None"):
        load_cleaner(model, light_on_dark="maybe")
