"""Dirty documents: the generator, filters, windows, cleaning, the Kaggle folder,
the submission file, the baselines, and the command line."""
import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from scratchdae.documents.evaluate import load_document_model
from scratchdae.documents.filters import box_filter, gaussian_blur, max_filter, median_filter, min_filter
from scratchdae.documents.generate import BACKGROUNDS, FONT_FAMILIES, available_fonts, generate_folder, make_page
from scratchdae.documents.stacked import load_cleaner
from scratchdae.documents.pages import (global_threshold, kaggle_pairs, median_background_subtraction, read_page,
                                        rmse, write_submission)
from scratchdae.documents.windows import (WindowSpec, assemble, clean_page, grid_positions, page_features,
                                          patch_targets)
from scratchdae import train
from scratchdae.documents import train_cleaner


def stop_at(epoch, step):
    """An on_step callback that stops the run at that epoch and step."""
    def stop(e, s, run):
        if (e, s) == (epoch, step):
            run.stop()
    return stop


def forget_settings(checkpoint, *keys, **then):
    """Rewrite a checkpoint.npz as a run of an earlier version saved it: the documents settings among the core's
    (with ``then``, settings of that version), without ``keys``."""
    from scratchdae.checkpoint import load_npz, save_npz

    arrays, header = load_npz(checkpoint)
    header["config"].update({**header.pop("documents"), **then})
    for key in keys:
        del header["config"][key]
    save_npz(checkpoint, arrays, {k: v for k, v in header.items() if not k.startswith("fo")})


def brute(page, k, f):
    r = k // 2
    p = np.pad(page, r, mode="edge")
    return np.array([[f(p[i:i + k, j:j + k]) for j in range(page.shape[1])] for i in range(page.shape[0])])


@pytest.mark.parametrize("k", [1, 3, 5])
def test_filters_match_brute_force(k):
    page = np.random.default_rng(0).random((7, 9)).astype(np.float32)
    np.testing.assert_allclose(max_filter(page, k), brute(page, k, np.max))
    np.testing.assert_allclose(min_filter(page, k), brute(page, k, np.min))
    np.testing.assert_allclose(box_filter(page, k), brute(page, k, np.mean), rtol=1e-5)
    np.testing.assert_allclose(median_filter(page, k), brute(page, k, np.median))
    blurred = gaussian_blur(page, 1.0)
    assert blurred.shape == page.shape and abs(blurred.mean() - page.mean()) < 0.05 and blurred.std() < page.std()


def test_fonts_cover_every_family():
    families = {f.family for f in available_fonts()}
    assert families == set(FONT_FAMILIES)
    assert {f.style for f in available_fonts()} >= {"regular", "bold", "italic"}


def test_pages_are_deterministic_and_in_kaggles_layout():
    a, b = make_page([7, 1]), make_page([7, 1])
    np.testing.assert_array_equal(a.noisy, b.noisy)
    np.testing.assert_array_equal(a.clean, b.clean)
    assert a.noisy.dtype == np.uint8 and a.noisy.shape[1] == 540 and a.noisy.shape[0] in (258, 420)
    assert not np.array_equal(make_page([7, 2]).clean[:100], a.clean[:100])
    assert a.clean.max() == 255 and a.clean.min() < 80  # white paper, dark ink
    noisy, clean = a.noisy / 255, a.clean / 255
    assert 0.05 < rmse(noisy, clean) < 0.35  # dirty, as Kaggle's raw pages (about 0.156)


@pytest.mark.parametrize("background", BACKGROUNDS)
def test_every_background_family_dirties_the_paper(background):
    page = make_page([3, 4], backgrounds=(background,))
    assert page.meta["background"] == background
    paper = page.noisy[page.clean == 255] / 255
    assert paper.std() > 0.01 and paper.mean() < 0.99


def test_restricting_families():
    for i in range(5):
        meta = make_page([1, i], fonts=("mono",), backgrounds=("watermark",)).meta
        assert meta["font_family"] == "mono" and meta["background"] == "watermark"
    with pytest.raises(ValueError, match="unknown backgrounds"):
        make_page(0, backgrounds=("tea",))


def test_windows_round_trip():
    spec = WindowSpec(window=5, patch=3)
    page = np.random.default_rng(1).random((6, 8)).astype(np.float32)
    assert page_features(page, spec).shape == (48, 75)  # window, ratio window, coarse context grid
    assert page_features(page, WindowSpec(window=5, context=0)).shape == (48, 50)
    np.testing.assert_allclose(assemble(patch_targets(page, spec), np.arange(6), np.arange(8), 6, 8, spec), page,
                               rtol=1e-6)
    for stride in (2, 3):  # patches on a coarser grid still cover every pixel exactly once or more
        rows, cols = grid_positions(6, stride), grid_positions(8, stride)
        full = patch_targets(page, spec).reshape(6, 8, -1)[np.ix_(rows, cols)]
        np.testing.assert_allclose(assemble(full, rows, cols, 6, 8, spec), page, rtol=1e-6)
    with pytest.raises(ValueError, match="odd positive integer"):
        WindowSpec(window=4)


@pytest.mark.parametrize("spec", [WindowSpec(), WindowSpec(window=5, patch=3, context=0), WindowSpec(window=9, patch=5)])
def test_features_and_targets_of_some_pixels_are_rows_of_the_whole_pages(spec):
    # training builds only the sampled windows; they must be exactly the rows the whole page would give
    rng = np.random.default_rng(2)
    page = rng.random((13, 17), dtype=np.float32)
    pixels = rng.integers(0, 13 * 17, 40)
    for build in (page_features, patch_targets):
        some, whole = build(page, spec, pixels), build(page, spec)[pixels]
        assert some.dtype == np.float32
        np.testing.assert_array_equal(some, whole)
        assert build(page, spec, pixels[:0]).shape == build(page, spec, []).shape == (0, whole.shape[1])
        np.testing.assert_array_equal(build(page, spec, [-1, 3]), build(page, spec)[[-1, 3]])
        for bad in (np.zeros(13 * 17, bool), 5, np.zeros((2, 2), int), [1.5]):
            with pytest.raises(ValueError, match="1-D array of flat pixel indices"):
                build(page, spec, bad)
        with pytest.raises(IndexError, match=r"must lie in -221..220 for a 13x17 page"):
            build(page, spec, [221])


@pytest.fixture(scope="module")
def doc_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("doc") / "run"
    r = train_cleaner(out=out, stages=1, pages=4, windows_per_page=1500, epochs=3, quiet=True,
              hidden=(32,), backend="numpy")
    return out, r, load_document_model(out / "model.npz")[2]


def test_training_on_documents_writes_model_and_figure(doc_model):
    out, r, spec = doc_model
    assert (out / "model.npz").is_file() and (out / "pages.png").is_file()
    assert r.history[-1]["val_loss"] < r.history[0]["val_loss"]
    assert spec == WindowSpec(window=9, patch=5, stride=2)  # the defaults, saved in the model's header
    assert r.model.config["n_in"] == 3 * 81 and r.model.config["n_out"] == 25


@pytest.mark.parametrize("shape", [(420, 540), (258, 540), (5, 3), (1, 1), (30, 700)])
@pytest.mark.parametrize("stride", [1, 2])
def test_cleaning_keeps_any_page_size(doc_model, shape, stride):
    _, r, spec = doc_model
    page = np.random.default_rng(0).random(shape).astype(np.float32)
    out = clean_page(r.model, r.loss, page, WindowSpec(window=spec.window, patch=spec.patch, stride=stride))
    assert out.shape == shape and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1


def test_baselines_help_on_dirty_pages():
    page = make_page([5, 5], backgrounds=("coffee",))
    noisy, clean = page.noisy / np.float32(255), page.clean / np.float32(255)
    assert rmse(median_background_subtraction(noisy), clean) < rmse(noisy, clean)
    assert set(np.unique(global_threshold(noisy))) <= {0.0, 1.0}


def make_folder(tmp_path, n=3, n_test=2):
    return generate_folder(tmp_path / "kaggle", n, seed=3, n_test=n_test, log=lambda *a: None)


def test_generated_folder_is_a_kaggle_folder(tmp_path):
    folder = make_folder(tmp_path)
    pairs = kaggle_pairs(folder)
    assert [p.name for p, _ in pairs] == ["1.png", "2.png", "3.png"]
    assert sorted(p.name for p in (folder / "test").iterdir()) == ["4.png", "5.png"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(manifest["pages"]) == {"train/1.png", "train/2.png", "train/3.png", "test/4.png", "test/5.png"}
    with pytest.raises(ValueError, match="not an empty folder"):
        make_folder(tmp_path)


def test_training_from_a_kaggle_folder(tmp_path):
    folder = make_folder(tmp_path, n=4, n_test=0)
    r = run("documents", "train", "--data-dir", folder, "--out", tmp_path / "run", "--epochs", "1", "--windows-per-page", "500",
            "--hidden", "16", "--quiet", "--no-figures", "--stages", "1")
    assert r.returncode == 0, r.stderr
    model, loss, spec = load_document_model(tmp_path / "run" / "model.npz")
    assert spec.patch == 5 and model.config["n_out"] == 25


def test_kaggle_folder_errors(tmp_path):
    (tmp_path / "k" / "train").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="expected train/ and train_cleaned/"):
        kaggle_pairs(tmp_path / "k")
    (tmp_path / "k" / "train_cleaned").mkdir()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "k" / "train" / "1.png")
    with pytest.raises(ValueError, match="lacks the clean twins of \\['1.png'\\]"):
        kaggle_pairs(tmp_path / "k")


def test_read_page_refuses_colour_and_non_images(tmp_path):
    rgb = np.zeros((5, 5, 3), np.uint8)
    rgb[..., 0] = 200
    Image.fromarray(rgb).save(tmp_path / "colour.png")
    with pytest.raises(ValueError, match="colour image.*grayscale"):
        read_page(tmp_path / "colour.png")
    Image.fromarray(np.full((5, 5, 3), 90, np.uint8)).save(tmp_path / "grey_rgb.png")
    assert read_page(tmp_path / "grey_rgb.png").max() == pytest.approx(90 / 255)  # grey stored as RGB is fine
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ValueError, match="not a readable image"):
        read_page(tmp_path / "notes.png")


def test_submission_format_and_order(doc_model, tmp_path):
    folder = make_folder(tmp_path)
    _, r, spec = doc_model
    pages = sorted((folder / "test").iterdir())
    rows = write_submission(tmp_path / "sub.csv", pages, lambda p: clean_page(r.model, r.loss, p, spec),
                            log=lambda *a: None)
    with open(tmp_path / "sub.csv") as f:
        reader = csv.reader(f)
        assert next(reader) == ["id", "value"]
        body = list(reader)
    heights = [read_page(p).shape[0] for p in pages]
    assert rows == len(body) == sum(h * 540 for h in heights)
    assert [b[0] for b in body[:3]] == ["4_1_1", "4_2_1", "4_3_1"]  # rows vary fastest
    assert body[heights[0]][0] == "4_1_2" and body[heights[0] * 540][0] == "5_1_1"
    assert all(0 <= float(v) <= 1 for _, v in body[::997])


def test_submission_leaves_nothing_on_a_bad_page(doc_model, tmp_path):
    folder = make_folder(tmp_path)
    (folder / "test" / "9.png").write_text("broken")
    with pytest.raises(ValueError, match="9.png is not a readable image"):
        write_submission(tmp_path / "sub.csv", sorted((folder / "test").iterdir()), lambda p: p, log=lambda *a: None)
    assert not (tmp_path / "sub.csv").exists() and not list(tmp_path.glob(".sub.csv*"))


def run(*args):
    return subprocess.run([sys.executable, "-m", "scratchdae.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600)


def test_cli_generate_evaluate_denoise_submit(doc_model, tmp_path):
    out, _, _ = doc_model
    r = run("documents", "generate", "--out", tmp_path / "k", "--pages", "2", "--test-pages", "1", "--seed", "4")
    assert r.returncode == 0, r.stderr
    r = run("documents", "evaluate", "--model", out / "model.npz", "--data-dir", tmp_path / "k", "--json")
    assert r.returncode == 0, r.stderr
    scores = json.loads(r.stdout)
    assert set(scores["rmse"]) == {"noisy page", "global threshold", "median background subtraction", "model"}
    r = run("denoise", "--model", out / "model.npz", tmp_path / "k" / "test" / "3.png", "--out", tmp_path / "clean")
    assert r.returncode == 0, r.stderr
    with Image.open(tmp_path / "clean" / "3.png") as im, Image.open(tmp_path / "k" / "test" / "3.png") as src:
        assert im.size == src.size and im.mode == "L"
    r = run("documents", "submit", "--model", out / "model.npz", "--test-dir", tmp_path / "k" / "test",
            "--csv", tmp_path / "s.csv")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "s.csv").read_text().startswith("id,value\n3_1_1,")


def test_cli_document_errors(doc_model, tmp_path):
    out, _, _ = doc_model
    rgb = np.zeros((20, 20, 3), np.uint8)
    rgb[..., 1] = 255
    Image.fromarray(rgb).save(tmp_path / "green.png")
    r = run("denoise", "--model", out / "model.npz", tmp_path / "green.png", "--out", tmp_path / "o")
    assert r.returncode == 2 and "colour image" in r.stderr and not (tmp_path / "o").exists()
    r = run("documents", "train", "--data-dir", tmp_path, "--out", tmp_path / "t")
    assert r.returncode == 2 and "expected train/ and train_cleaned/" in r.stderr
    r = run("documents", "evaluate", "--model", tmp_path / "missing.npz")
    assert r.returncode == 2 and "does not exist" in r.stderr
    for argv in (["train", "--dataset", "documents"], ["train", "--data-dir", generate_folder(
            tmp_path / "kaggle", 2, seed=1, log=lambda *a: None)]):  # documents have a command of their own
        r = run(*argv, "--out", tmp_path / "t2")
        assert r.returncode == 2 and "scratchdae documents train" in r.stderr.splitlines()[-1], r.stderr
    generate_folder(tmp_path / "k", 2, seed=1, log=lambda *a: None)
    r = run("documents", "train", "--data-dir", tmp_path / "k", "--mark-windows", "0.2", "--out", tmp_path / "m")
    assert r.returncode == 2 and "only generated pages record" in r.stderr and not (tmp_path / "m").exists()


def test_scores_by_font_size_and_background_are_the_pixels_of_those_pages():
    # three pages, two of them serif: the serif RMSE is over the serif pages' pixels together
    from scratchdae.documents.evaluate import score_pages, worst_pages

    rng = np.random.default_rng(0)
    clean = [np.ones((10, 12)), np.ones((10, 12)), np.ones((20, 12))]
    pairs = [(c - rng.random(c.shape) * s, c) for c, s in zip(clean, (0.1, 0.5, 0.2))]
    meta = [{"font_family": "serif", "size": "normal", "background": "coffee"},
            {"font_family": "mono", "size": "normal", "background": "coffee"},
            {"font_family": "serif", "size": "large", "background": "folded"}]
    r = score_pages(pairs, lambda p: p, meta=meta)  # a "model" that changes nothing: it scores as the noisy page
    sse = [float(np.sum((n - c) ** 2)) for n, c in pairs]
    serif = r["by"]["font_family"]["serif"]
    assert serif["pages"] == 2
    assert serif["model"] == pytest.approx(np.sqrt((sse[0] + sse[2]) / (120 + 240)))
    assert serif["model"] == pytest.approx(serif["noisy page"])
    assert r["by"]["size"]["normal"]["model"] == pytest.approx(np.sqrt((sse[0] + sse[1]) / 240))
    assert list(r["by"]["background"]) == ["coffee", "folded"]
    assert r["page_rmse"] == pytest.approx([np.sqrt(e / c.size) for e, (_, c) in zip(sse, pairs)])
    assert worst_pages(r, 2) == [1, 2]
    assert "by" not in score_pages(pairs, lambda p: p)  # no record of the pages: no groups
    with pytest.raises(ValueError, match="one dict a page: 2 for 3 pages"):
        score_pages(pairs, lambda p: p, meta=meta[:2])


def test_cli_evaluate_reports_by_font_and_draws_the_worst_pages(doc_model, tmp_path):
    out, _, _ = doc_model
    figure = tmp_path / "worst.png"
    r = run("documents", "evaluate", "--model", out / "model.npz", "--pages", "3", "--figure", figure, "--json")
    assert r.returncode == 0, r.stderr
    scores = json.loads(r.stdout)
    assert set(scores["by"]) == {"font_family", "size", "background"}
    assert set(scores["marks"]) == {"near marks", "elsewhere"}
    assert sum(v["pages"] for v in scores["by"]["font_family"].values()) == 3
    assert scores["figure"] == str(figure) and figure.stat().st_size > 10_000
    r = run("documents", "evaluate", "--model", out / "model.npz", "--pages", "1", "--figure", figure)
    assert r.returncode == 2 and "already exists" in r.stderr  # nothing is replaced without --overwrite
    r = run("documents", "evaluate", "--model", out / "model.npz", "--pages", "2")
    assert r.returncode == 0 and "RMSE by font family" in r.stdout and "RMSE by background" in r.stdout


def test_the_generator_knows_where_it_drew_marks_that_are_not_text():
    # a crease, a ring's rim or a ridge is recorded as a thin band of pixels; a page of plain stains has none
    found = {}
    for i in range(40):
        page = make_page([11, i])
        key = (page.meta["background"], page.meta["variant"])
        found.setdefault(key, []).append(page.marks.mean())
        assert page.marks.dtype == bool and page.marks.shape == page.clean.shape
    assert all(0 < f < 0.3 for f in found[("folded", 0)])  # creases: lines, not the whole page
    assert all(f == 0 for f in found.get(("coffee", 1), [0]))  # small splashes have no dried rims
    assert len(found) >= 6


def test_scores_near_marks_and_elsewhere_split_the_pixels():
    from scratchdae.documents.evaluate import score_pages

    rng = np.random.default_rng(1)
    clean = np.ones((8, 10))
    noisy = clean - rng.random(clean.shape) * 0.3
    near = np.zeros(clean.shape, bool)
    near[2:4] = True  # two rows near a mark
    r = score_pages([(noisy, clean)], lambda p: p, near_marks=[near])
    err = (noisy - clean) ** 2
    assert r["marks"]["near marks"]["pixels"] == 20 and r["marks"]["elsewhere"]["pixels"] == 60
    assert r["marks"]["near marks"]["model"] == pytest.approx(np.sqrt(err[near].mean()))
    assert r["marks"]["elsewhere"]["noisy page"] == pytest.approx(np.sqrt(err[~near].mean()))
    with pytest.raises(ValueError, match="one mask a page"):
        score_pages([(noisy, clean)], lambda p: p, near_marks=[near[:4]])


def test_the_second_generator_draws_other_pages_the_same_way_from_a_seed():
    from scratchdae.documents.other_pages import DAMAGES, make_other_page, other_pages

    a, b = make_other_page([3, 1]), make_other_page([3, 1])
    assert np.array_equal(a.noisy, b.noisy) and np.array_equal(a.clean, b.clean) and a.meta == b.meta
    pages = other_pages(8, seed=5)
    for p in pages:
        assert p.noisy.dtype == p.clean.dtype == np.uint8 and p.noisy.shape == p.clean.shape == p.marks.shape
        assert p.noisy.shape[1] == 540 and p.meta["generator"] == "other"
        assert set(p.meta["damages"]) <= set(DAMAGES) and 1 <= len(p.meta["damages"]) <= 3
        paper = p.clean > 250  # where the clean page is white paper, the noisy one is damaged
        assert paper.mean() > 0.5 and p.noisy[paper].mean() < 245
    assert len({p.meta["font"] for p in pages}) > 1
    marked = [p for p in pages if {"scribbles", "photocopy", "tape"} & set(p.meta["damages"])]
    assert marked and all(0 < p.marks.mean() < 0.3 for p in marked)
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        make_other_page(-1)


def test_cli_evaluates_on_the_second_generator(doc_model, tmp_path):
    out, _, _ = doc_model
    r = run("documents", "evaluate", "--model", out / "model.npz", "--generator", "other", "--pages", "2", "--json")
    assert r.returncode == 0, r.stderr
    scores = json.loads(r.stdout)
    assert "second generator" in scores["source"] and set(scores["by"]) == {"font_family"}
    r = run("documents", "evaluate", "--model", out / "model.npz", "--generator", "other", "--fonts", "mono")
    assert r.returncode == 2 and "--fonts would be ignored" in r.stderr


def test_window_features_that_were_removed_load_at_their_off_value_and_are_refused_on():
    from scratchdae.documents.windows import RemovedFeature

    spec = WindowSpec(window=5, patch=3)
    old = {**spec.config(), "lines": 0, "wide_paper": 0, "contrast": 0}  # a model file of an earlier version
    assert WindowSpec.from_config(old) == spec
    for name, value in (("lines", 41), ("wide_paper", 45), ("contrast", 15)):
        with pytest.raises(RemovedFeature, match=f"trained with {name}={value}, a window feature scratchdae no "
                                                 "longer builds"):
            WindowSpec.from_config({**old, name: value})
    for name in ("lines", "wide_paper", "contrast"):
        with pytest.raises(TypeError, match=name):
            WindowSpec(**{name: 0})


def test_a_model_file_that_names_the_patch_out_and_the_grid_first_loads_under_the_current_names(doc_model, tmp_path):
    from scratchdae.checkpoint import load_npz, save_npz
    from scratchdae.documents.stacked import load_cleaner

    out, _, _ = doc_model
    arrays, header = load_npz(out / "model.npz")
    window = header["window"]
    header["window"] = {("out" if k == "patch" else "first" if k == "first_view" else k): v for k, v in window.items()}
    assert "out" in header["window"] and "first" in header["window"] and "patch" not in header["window"]
    save_npz(tmp_path / "old.npz", arrays, header)
    old, new = load_cleaner(tmp_path / "old.npz"), load_cleaner(out / "model.npz")
    assert old.stages[0].spec == new.stages[0].spec == WindowSpec.from_config(window)
    page = np.random.default_rng(0).uniform(0, 1, (20, 30)).astype(np.float32)
    np.testing.assert_array_equal(old(page), new(page))
    assert WindowSpec.from_config({"window": 9, "out": 5, "first": 7}) == WindowSpec(window=9, patch=5, first_view=7)


def test_a_model_file_that_used_a_removed_feature_is_refused_in_one_line(doc_model, tmp_path):
    from scratchdae.checkpoint import load_npz, save_npz
    from scratchdae.documents.stacked import load_cleaner

    out, _, _ = doc_model
    arrays, header = load_npz(out / "model.npz")
    header["window"].update(lines=0, wide_paper=0, contrast=0)
    save_npz(tmp_path / "off.npz", arrays, header)
    assert len(load_cleaner(tmp_path / "off.npz").stages) == 1  # at their off values: loads as before
    header["window"]["lines"] = 41
    save_npz(tmp_path / "on.npz", arrays, header)
    Image.fromarray(np.full((20, 30), 200, np.uint8)).save(tmp_path / "page.png")
    r = run("denoise", "--model", tmp_path / "on.npz", tmp_path / "page.png", "--out", tmp_path / "o")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "lines=41, a window feature scratchdae no longer builds" in r.stderr


def test_a_share_of_training_windows_can_be_taken_near_marks():
    from scratchdae.documents.training import sample_windows

    noisy, clean = np.ones((50, 50), np.float32), np.ones((50, 50), np.float32)  # no ink at all
    marks = np.zeros((50, 50), bool)
    marks[:, 25] = True  # one column of a crease: 2% of the page
    noisy[marks] = 0.125
    spec = WindowSpec(window=1, patch=1, context=0)

    def near(fraction):
        X, _ = sample_windows([(noisy, clean)], spec, 40, np.random.default_rng(0), [marks], fraction)
        return int((X[:, 0] == 0.125).sum())

    assert near(0.25) >= 10  # a quarter of the 40 windows, and the uniform ones that fall there too
    assert near(0.0) < 10
    X0, _ = sample_windows([(noisy, clean)], spec, 40, np.random.default_rng(0))
    X1, _ = sample_windows([(noisy, clean)], spec, 40, np.random.default_rng(0), [marks], 0.0)
    np.testing.assert_array_equal(X0, X1)  # without a share near marks, the windows of before


# -- the stacked cleaner -------------------------------------------------------------------

def test_a_second_stage_reads_the_first_stages_page_as_a_window_and_a_coarse_grid():
    rng = np.random.default_rng(4)
    page, first = rng.random((30, 40), dtype=np.float32), rng.random((30, 40), dtype=np.float32)
    one, two = WindowSpec(window=5, patch=3), WindowSpec(window=5, patch=3, first_view=3)
    assert two.n_features == one.n_features + 2 * 25
    f = page_features(page, two, first_output=first)
    np.testing.assert_array_equal(f[:, :one.n_features], page_features(page, one))  # the noisy page's, as before
    # the first stage's page around pixel (12, 17): its 5x5 window, then every 3rd of its 3x3 means over 13x13
    i, j = 12, 17
    np.testing.assert_allclose(f[i * 40 + j, one.n_features:one.n_features + 25],
                               first[i - 2:i + 3, j - 2:j + 3].ravel())
    means = box_filter(first, 3)
    np.testing.assert_allclose(f[i * 40 + j, one.n_features + 25:], means[i - 6:i + 7:3, j - 6:j + 7:3].ravel(),
                               rtol=1e-6)
    np.testing.assert_array_equal(page_features(page, two, [5, -1], first), f[[5, -1]])
    with pytest.raises(ValueError, match="this is a second stage: it reads the first stage's cleaned page"):
        page_features(page, two)
    with pytest.raises(ValueError, match="got shape \\(30, 39\\)"):
        page_features(page, two, first_output=first[:, 1:])
    with pytest.raises(ValueError, match="a first stage reads the noisy page alone"):
        page_features(page, one, first_output=first)
    for bad in (2, -1, 1.5):
        with pytest.raises(ValueError, match="first_view must be 0 or an odd positive integer up to 15"):
            WindowSpec(first_view=bad)


@pytest.fixture(scope="module")
def stacked(doc_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("stacked") / "run"
    first, _, _ = doc_model
    r = train_cleaner(out=out, first_stage=first / "model.npz", pages=3, windows_per_page=1000,
              epochs=2, quiet=True, hidden=(16,), backend="numpy")
    return first / "model.npz", out, r


def test_a_stacked_model_is_one_file_that_runs_both_stages(stacked):
    from scratchdae.documents.stacked import load_cleaner

    first_path, out, r = stacked
    assert r.model.config["n_in"] == 5 * 81 and (out / "pages.png").is_file()
    cleaner = load_cleaner(out / "model.npz")
    assert len(cleaner.stages) == 2 and cleaner.stages[1].spec.first_view == 7 and cleaner.stages[0].spec.first_view == 0
    alone = load_cleaner(first_path)
    page = make_page([9, 9]).floats()[0]
    s1, s2 = cleaner.stages
    np.testing.assert_array_equal(cleaner.first_stage()(page), alone(page))  # the first stage, weights and all
    np.testing.assert_array_equal(cleaner(page), clean_page(s2.model, s2.loss, page, s2.spec, first_output=alone(page)))
    with pytest.raises(ValueError, match="stacked cleaner of two stages.*load_cleaner"):
        load_document_model(out / "model.npz")
    with pytest.raises(ValueError, match="already a stacked cleaner"):
        train_cleaner(out=out.parent / "third", first_stage=out / "model.npz", pages=2,
              windows_per_page=100, epochs=1, quiet=True)
    assert not (out.parent / "third").exists()


def test_a_second_stage_trains_on_pages_its_first_stage_did_not(stacked):
    from scratchdae.documents.training import make_pages

    first = [p.noisy for p in make_pages(3, 0, "train")]
    second = [p.noisy for p in make_pages(3, 0, "second")]
    assert not any(np.array_equal(a, b) for a in first for b in second)
    _, out, r = stacked
    from scratchdae.checkpoint import load_model

    header = load_model(out / "model.npz")[2]
    assert header["documents"]["first_stage"].endswith("model.npz") and header["first_stage"]["task"] == "documents"


def test_a_second_stage_on_a_folder_leaves_out_the_first_stages_pages(tmp_path):
    from scratchdae.checkpoint import load_model

    folder = make_folder(tmp_path, n=6, n_test=0)
    kw = dict(data_dir=folder, epochs=1, windows_per_page=200, hidden=(8,), quiet=True,
              figures=False, val_fraction=0.34)
    train_cleaner(out=tmp_path / "one", stages=1, **kw)
    seen = set(load_model(tmp_path / "one" / "model.npz")[2]["train_pages"])
    assert len(seen) == 4  # 6 pages, 2 for validation
    train_cleaner(out=tmp_path / "two", first_stage=tmp_path / "one" / "model.npz", **kw)  # 2 pages left: 1 + 1
    second = set(load_model(tmp_path / "two" / "model.npz")[2]["train_pages"])
    assert len(second) == 1 and not second & seen
    train_cleaner(out=tmp_path / "most", stages=1, **{**kw, "val_fraction": 0.17})  # 5 of 6 pages in training
    with pytest.raises(ValueError, match="has 1 page pair once the 5 pages its first stage trained on are left out.*"
                                         "at least 2 are needed.*another folder"):
        train_cleaner(out=tmp_path / "three", first_stage=tmp_path / "most" / "model.npz", **kw)
    assert not (tmp_path / "three").exists()


def test_a_damaged_stacked_file_is_refused(stacked, tmp_path):
    import zipfile

    from scratchdae.checkpoint import CheckpointError, load_npz, save_npz
    from scratchdae.documents.stacked import EMBEDDED, load_cleaner

    _, out, _ = stacked
    arrays, header = load_npz(out / "model.npz", embedded=EMBEDDED)
    for name, (a, h) in {
        "missing": ({k: v for k, v in arrays.items() if k != "first/param/encoder.0.W"}, header),
        "reshaped": ({**arrays, "first/param/encoder.0.W": arrays["first/param/encoder.0.W"][:, :3]}, header),
        "no first header": (arrays, {k: v for k, v in header.items() if k != "first_stage"}),
        "stacked twice": (arrays, {**header, "first_stage": {**header["first_stage"], "first_stage": {}}}),
        "not documents": (arrays, {**header, "first_stage": {**header["first_stage"], "task": "images"}}),
    }.items():
        save_npz(tmp_path / "bad.npz", a, {k: v for k, v in h.items() if not k.startswith("format")})
        with pytest.raises(CheckpointError):
            load_cleaner(tmp_path / "bad.npz")
    assert zipfile.is_zipfile(out / "model.npz")


def test_a_stacked_model_cleans_scores_and_denoises_from_the_command_line(stacked, tmp_path):
    _, out, _ = stacked
    r = run("documents", "evaluate", "--model", out / "model.npz", "--pages", "1", "--json")
    assert r.returncode == 0, r.stderr
    rmse_ = json.loads(r.stdout)["rmse"]
    assert set(rmse_) == {"noisy page", "global threshold", "median background subtraction", "first stage alone",
                          "model"}
    generate_folder(tmp_path / "k", 1, seed=2, n_test=1, log=lambda *a: None)
    r = run("denoise", "--model", out / "model.npz", tmp_path / "k" / "test" / "2.png", "--out", tmp_path / "c")
    assert r.returncode == 0, r.stderr
    from scratchdae.documents.stacked import load_cleaner

    expected = np.round(load_cleaner(out / "model.npz")(read_page(tmp_path / "k" / "test" / "2.png")) * 255)
    np.testing.assert_array_equal(read_page(tmp_path / "c" / "2.png") * 255, expected)


def test_a_second_stage_keeps_the_first_stages_patch_where_its_window_is_all_paper(stacked, monkeypatch):
    from dataclasses import replace

    from scratchdae.documents.config import KEEP_PAPER
    from scratchdae.documents.stacked import load_cleaner

    _, out, _ = stacked
    s2 = load_cleaner(out / "model.npz").stages[1]
    assert s2.spec.keep_paper == KEEP_PAPER == 0.99
    page = make_page([9, 9]).floats()[0][:60, :80]
    first = np.ones_like(page)
    first[20:30, 30:50] = np.linspace(0, 0.995, 200).reshape(10, 20)  # ink, and faint grey the first stage left
    rows_run = []
    forward = s2.model.forward
    monkeypatch.setattr(s2.model, "forward", lambda X: rows_run.append(len(X)) or forward(X))
    # (PG3), by brute force: the windows 2 pixels apart whose 9x9 window of the first stage's page is all >= 0.99
    rows, cols = grid_positions(60, 2), grid_positions(80, 2)
    paper = brute(first, 9, np.min)[np.ix_(rows, cols)] >= 0.99
    assert 0 < paper.sum() < paper.size
    kept = clean_page(s2.model, s2.loss, page, s2.spec, first_output=first)
    assert sum(rows_run) == (~paper).sum()  # the network ran on the other windows only
    rows_run.clear()
    everywhere = clean_page(s2.model, s2.loss, page, replace(s2.spec, keep_paper=0.0), first_output=first)
    assert sum(rows_run) == paper.size
    cleaner = load_cleaner(out / "model.npz")
    assert cleaner.cleaning(keep_paper=0).stages[1].spec.keep_paper == 0.0
    assert cleaner.cleaning(keep_paper=0).stages[0] is cleaner.stages[0]
    with pytest.raises(ValueError, match="keep_paper sets how a second stage reads the first, and this model has one"):
        cleaner.first_stage().cleaning(keep_paper=0.5)
    np.testing.assert_array_equal(kept[:5], 1.0)  # far from the ink: the first stage's paper, exactly
    np.testing.assert_array_equal(kept[:, :15], 1.0)
    np.testing.assert_allclose(kept[20:30, 30:50], everywhere[20:30, 30:50], rtol=1e-6)  # near it: the network's
    assert np.abs(everywhere[:5] - 1).max() > 0  # which would not have given exactly 1 on the paper
    rows_run.clear()
    np.testing.assert_array_equal(clean_page(s2.model, s2.loss, page, s2.spec, first_output=np.ones_like(page)), 1.0)
    assert rows_run == []  # all paper: the second network never runs
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="windows_per_batch must be a positive integer"):
            clean_page(s2.model, s2.loss, page, s2.spec, windows_per_batch=bad, first_output=first)
    assert WindowSpec(first_view=7, keep_paper=np.float32(0.5)).keep_paper == 0.5
    for bad in (1.5, -0.1, "0.9", True, float("nan")):
        with pytest.raises(ValueError, match="keep_paper must be a brightness in \\[0, 1\\]"):
            WindowSpec(first_view=7, keep_paper=bad)
    with pytest.raises(ValueError, match="keep_paper \\(0.9\\) keeps a first stage's output, and this is a first"):
        WindowSpec(keep_paper=0.9)


def test_the_documents_settings_check_what_only_a_second_stage_uses():
    from scratchdae.documents import DocumentsConfig

    with pytest.raises(ValueError, match="keep_paper would be ignored"):
        DocumentsConfig(stages=1, keep_paper=0.9)
    with pytest.raises(ValueError, match="keep_paper must be a brightness in \\[0, 1\\]"):
        DocumentsConfig(keep_paper=2)
    assert DocumentsConfig().keep_paper == 0.99 and DocumentsConfig().stages == 2
    with pytest.raises(ValueError, match="--first-stage trains the second of two stages, and --stages 1"):
        DocumentsConfig(first_stage="m.npz", stages=1, keep_paper=0.5)
    assert DocumentsConfig(stages=1).keep_paper is None
    assert DocumentsConfig(first_stage="m.npz").spec(second=True).first_view == 7
    for gone in ("first_view", "system_fonts", "lines", "wide_paper", "contrast"):
        with pytest.raises(TypeError, match=gone):
            DocumentsConfig(**{gone: 1})
    with pytest.raises(TypeError, match="unknown settings first_stage"):
        train(dataset="mnist-sample", first_stage="m.npz")
    with pytest.raises(ValueError, match="documents runs are trained by their own command.*scratchdae documents "
                                         "train"):
        train(dataset="documents", epochs=1, quiet=True)


def test_more_variety_draws_sizes_between_pixels_heavier_and_lighter_strokes_and_ink_bleed():
    from scratchdae.documents.generate import available_fonts, render_ink

    font = next(f for f in available_fonts() if f.name == "DejaVuSerif")
    ink = {w: render_ink(np.random.default_rng(1), 120, 300, font, 18, 3, w) for w in (-1, 0, 1)}
    assert ink[-1].sum() < ink[0].sum() < ink[1].sum()  # a lighter, a plain and a heavier hand
    plain = render_ink(np.random.default_rng(1), 120, 300, font, 18)
    assert abs(ink[0].sum() / plain.sum() - 1) < 0.1  # drawn large and shrunk: the same text, the same ink
    assert ((ink[0] > 0.05) & (ink[0] < 0.95)).sum() > ((plain > 0.05) & (plain < 0.95)).sum()  # greyer edges
    pages = [make_page([5, i], variety=True) for i in range(8)]
    assert any(p.meta["font_px"] != int(p.meta["font_px"]) for p in pages)
    assert {p.meta["variety"]["weight"] for p in pages} <= {-1, 0, 1} and len({p.meta["font_px"] for p in pages}) > 4
    again = make_page([5, 3], variety=True)
    np.testing.assert_array_equal(again.noisy, pages[3].noisy)
    plain_page = make_page([5, 3])
    assert "variety" not in plain_page.meta and plain_page.meta["background"] == again.meta["background"]
    assert all(0 <= p.meta["variety"]["bleed"] <= 0.5 and 0.7 <= p.meta["variety"]["bleed_px"] <= 2 for p in pages)


def test_two_stages_in_one_run_and_a_resume_that_picks_up_the_first(tmp_path):
    from scratchdae.documents.stacked import load_cleaner

    kw = dict(stages=2, pages=3, windows_per_page=300, epochs=2, hidden=(8,), quiet=True,
              figures=False, backend="numpy")
    whole = train_cleaner(out=tmp_path / "whole", **kw)
    assert len(load_cleaner(tmp_path / "whole" / "model.npz").stages) == 2
    assert (tmp_path / "whole" / "first-stage" / "model.npz").is_file() and len(whole.history) == 2

    def stop_in_the_first_stage(epoch, step, run):
        if epoch == 1 and step == 1 and run.model.config["n_in"] == 3 * 81:
            run.stop()

    stopped = train_cleaner(out=tmp_path / "cut", on_step=stop_in_the_first_stage, **kw)
    assert stopped.stopped == "interrupted" and not (tmp_path / "cut" / "checkpoint.npz").exists()
    assert stopped.out == tmp_path / "cut"  # the run to resume, not its first stage's folder
    resumed = train_cleaner(out=tmp_path / "cut", resume=True, quiet=True)
    assert resumed.stopped == "finished"
    a, b = load_cleaner(tmp_path / "whole" / "model.npz"), load_cleaner(tmp_path / "cut" / "model.npz")
    page = make_page([2, 2]).floats()[0]
    np.testing.assert_array_equal(a(page), b(page))  # stopped and resumed: the same model to the last bit
    with pytest.raises(ValueError, match="already holds checkpoint.npz, of a run this one would replace"):
        train_cleaner(out=tmp_path / "cut", **{**kw, "epochs": 1})
    with pytest.raises(ValueError, match="stages must be 1 or 2"):
        train_cleaner(out=tmp_path / "three", **{**kw, "stages": 3})
    with pytest.raises(ValueError, match="a document cleaner trains on pages, and dataset='mnist-sample'"):
        train_cleaner(out=tmp_path / "digits", dataset="mnist-sample", stages=2, epochs=1)


def test_a_two_stage_run_refuses_what_would_stop_it_late_and_leaves_nothing_behind(tmp_path):
    import shutil

    kw = dict(stages=2, pages=3, windows_per_page=300, epochs=2, hidden=(8,), quiet=True,
              figures=False, backend="numpy")

    def stop_in_the_first_stage(epoch, step, run):
        if epoch == 0 and step == 1 and run.model.config["n_in"] == 3 * 81:
            run.stop()

    train_cleaner(out=tmp_path / "a", on_step=stop_in_the_first_stage, **kw)
    with pytest.raises(ValueError, match="hidden differs from the saved hidden=\\(8,\\)"):
        train_cleaner(out=tmp_path / "a", resume=True, hidden=(64,))  # changed settings: refused in stage 1 as in stage 2
    with pytest.raises(ValueError, match="stages differs"):
        train_cleaner(out=tmp_path / "a", resume=True, stages=1)

    def stop_in_the_second_stage(epoch, step, run):
        if epoch == 1 and step == 1 and run.model.config["n_in"] == 5 * 81:
            run.stop()

    assert train_cleaner(out=tmp_path / "a", resume=True, on_step=stop_in_the_second_stage).stopped == "interrupted"
    shutil.move(tmp_path / "a", tmp_path / "moved")  # the first stage moves with its run
    assert train_cleaner(out=tmp_path / "moved", resume=True, quiet=True).stopped == "finished"

    def crash(epoch, step, run):
        raise RuntimeError("the power went")

    with pytest.raises(RuntimeError, match="power"):
        train_cleaner(out=tmp_path / "b", on_step=crash, **kw)
    assert not (tmp_path / "b").exists()  # nothing to resume: nothing left
    folder = generate_folder(tmp_path / "k", 6, seed=1, log=lambda *a: None)
    with pytest.raises(ValueError, match="its 1 validation page, and needs at least 2. Fix: --val-fraction 0.42"):
        train_cleaner(out=tmp_path / "c", **{**kw, "pages": None, "data_dir": folder})
    assert not (tmp_path / "c").exists()
    with pytest.raises(ValueError, match="--window 8"):
        train_cleaner(out=tmp_path / "d", **{**kw, "window": 8})
    assert not (tmp_path / "d").exists()
    for bad in (dict(stages=2.0), dict(stages=True)):
        with pytest.raises(ValueError, match="stages must be 1 or 2"):
            train_cleaner(out=tmp_path / "e", **{**kw, **bad})
    with pytest.raises(TypeError, match="variety must be True or False"):
        make_page(1, variety="no")


def test_a_stacked_file_with_damaged_window_sizes_is_refused_by_name(stacked, tmp_path):
    from scratchdae.checkpoint import CheckpointError, load_npz, save_npz
    from scratchdae.documents.stacked import load_cleaner

    _, out, _ = stacked
    arrays, header = load_npz(out / "model.npz")
    first = header["first_stage"]
    for bad in ({**header, "window": {**header["window"], "window": 7}},
                {**header, "first_stage": {k: v for k, v in first.items() if k != "window"}},
                {**header, "first_stage": {**first, "window": {**first["window"], "foo": 1}}},
                {**header, "window": {**header["window"], "background": 10**6}}):
        save_npz(tmp_path / "bad.npz", arrays, {k: v for k, v in bad.items() if not k.startswith("format")})
        with pytest.raises(CheckpointError, match="bad.npz.*(window sizes|damaged)"):
            load_cleaner(tmp_path / "bad.npz")
    cleaner = load_cleaner(out / "model.npz")
    s = cleaner.stages[1]
    page = np.ones((20, 30), np.float32)
    with pytest.raises(ValueError, match="NaN or inf"):
        clean_page(s.model, s.loss, page, s.spec, first_output=np.full((20, 30), np.nan, np.float32))


def test_the_worst_pages_figure_outlines_the_marks_in_red(tmp_path):
    from scratchdae.documents.figures import worst_pages_figure

    page = make_page([3, 1], backgrounds=("folded",))
    noisy, clean = page.floats()
    assert page.marks.any()

    def red_pixels(path):
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB")).astype(int)
        return int(((rgb[..., 0] > 180) & (rgb[..., 1] < 90) & (rgb[..., 2] < 90)).sum())

    with_marks = worst_pages_figure(tmp_path / "a.png", [(noisy, noisy, clean, "page", page.marks)])
    without = worst_pages_figure(tmp_path / "b.png", [(noisy, noisy, clean, "page")])
    assert red_pixels(with_marks) > 50 and red_pixels(without) == 0


def test_runs_saved_before_two_stages_and_other_folders_resume(tmp_path, monkeypatch):
    from scratchdae.checkpoint import load_npz

    kw = dict(pages=2, windows_per_page=200, epochs=2, hidden=(8,), quiet=True, figures=False)
    train_cleaner(out=tmp_path / "old", stages=1, mark_windows=0.0, on_step=stop_at(1, 1), **kw)
    forget_settings(tmp_path / "old" / "checkpoint.npz", "stages", "first_stage", "variety", first_view=None,
                    lines=0, wide_paper=0, contrast=0, system_fonts=False)
    assert train_cleaner(out=tmp_path / "old", resume=True, quiet=True).stopped == "finished"
    train_cleaner(out=tmp_path / "gone", stages=1, mark_windows=0.0, on_step=stop_at(1, 1), **kw)
    forget_settings(tmp_path / "gone" / "checkpoint.npz", system_fonts=True)  # a setting that is gone, on
    with pytest.raises(ValueError, match="trained with system_fonts=True, a setting scratchdae no longer has"):
        train_cleaner(out=tmp_path / "gone", resume=True, quiet=True)

    monkeypatch.chdir(tmp_path)  # a first stage given as a relative path is saved as an absolute one
    r = train_cleaner(out="two", first_stage="old/model.npz", **kw)
    assert r.history and load_npz(tmp_path / "two" / "checkpoint.npz")[1]["documents"]["first_stage"] == str(
        tmp_path / "old" / "model.npz")
    folder = generate_folder(tmp_path / "k", 4, seed=2, log=lambda *a: None)
    with pytest.raises(ValueError, match="keeps 4 of the 4 pages .* for validation, which leaves none to train on"):
        train_cleaner(out=tmp_path / "v", data_dir=folder, stages=1, val_fraction=0.9, **{**kw, "pages": None})
    small = generate_folder(tmp_path / "k2", 2, seed=2, log=lambda *a: None)
    with pytest.raises(ValueError, match="it has 2 pages, and two stages need at least 4"):
        train_cleaner(out=tmp_path / "w", data_dir=small, **{**kw, "pages": None})


def test_a_second_stage_saved_before_it_kept_the_paper_resumes_running_everywhere(stacked, tmp_path):
    from scratchdae.checkpoint import load_model

    first, _, _ = stacked
    kw = dict(first_stage=first, pages=2, windows_per_page=200, epochs=2, hidden=(8,),
              quiet=True, figures=False)
    train_cleaner(out=tmp_path / "two", keep_paper=0.0, on_step=stop_at(1, 1), **kw)
    forget_settings(tmp_path / "two" / "checkpoint.npz", "keep_paper")  # a second stage of before
    with pytest.raises(ValueError, match="keep_paper differs from the saved keep_paper=0.0"):  # no --dataset needed
        train_cleaner(out=tmp_path / "two", resume=True, keep_paper=0.5, quiet=True)
    with pytest.raises(TypeError, match="unknown settings keep_papers"):
        train_cleaner(out=tmp_path / "two", resume=True, keep_papers=0.5, quiet=True)
    assert train_cleaner(out=tmp_path / "two", resume=True, quiet=True).stopped == "finished"
    assert load_model(tmp_path / "two" / "model.npz")[2]["window"]["keep_paper"] == 0.0

    del kw["first_stage"]  # a two-stage run stopped in its first stage, its settings saved without keep_paper
    train_cleaner(out=tmp_path / "both", keep_paper=0.0, on_step=stop_at(1, 1), **kw)
    saved = json.loads((tmp_path / "both" / "stages.json").read_text())
    settings = {**saved["train"], **saved["documents"]}  # as an earlier version wrote it: one object
    del settings["keep_paper"]
    (tmp_path / "both" / "stages.json").write_text(json.dumps(settings))
    assert train_cleaner(out=tmp_path / "both", resume=True, quiet=True).stopped == "finished"
    assert load_model(tmp_path / "both" / "model.npz")[2]["window"]["keep_paper"] == 0.0


def test_a_header_can_be_read_and_checked_without_its_arrays(stacked, tmp_path):
    from scratchdae.checkpoint import CheckpointError, load_npz

    _, out, _ = stacked
    arrays, header = load_npz(out / "model.npz", kind="model", header_only=True)
    assert arrays == {} and header == load_npz(out / "model.npz")[1]
    with pytest.raises(CheckpointError, match="expected a 'training-state'"):
        load_npz(out / "model.npz", kind="training-state", header_only=True)


def test_stride_and_keep_paper_are_settings_of_cleaning_training_learns_the_same_weights(doc_model, tmp_path):
    from scratchdae.checkpoint import load_npz

    out, _, _ = doc_model  # trained at stride 2, the default
    again = train_cleaner(out=tmp_path / "s1", stages=1, stride=1, pages=4, windows_per_page=1500, epochs=3,
                          quiet=True, hidden=(32,), backend="numpy", figures=False)
    a2, h2 = load_npz(out / "model.npz")
    a1, h1 = load_npz(tmp_path / "s1" / "model.npz")
    assert a1.keys() == a2.keys() and all(np.array_equal(a1[k], a2[k]) for k in a1)  # stride: not in training
    assert (h1["window"]["stride"], h2["window"]["stride"]) == (1, 2)  # only the file's default for cleaning
    page = np.random.default_rng(3).uniform(0, 1, (23, 31)).astype(np.float32)
    at_one = load_cleaner(tmp_path / "s1" / "model.npz")
    np.testing.assert_array_equal(load_cleaner(out / "model.npz", stride=1)(page), at_one(page))
    np.testing.assert_array_equal(at_one.cleaning(stride=2)(page), load_cleaner(out / "model.npz")(page))
    assert not np.array_equal(at_one(page), load_cleaner(out / "model.npz")(page))
    with pytest.raises(ValueError, match="--stride 9: stride must be between 1 and patch"):
        load_cleaner(out / "model.npz", stride=9)
    with pytest.raises(ValueError, match="--stride True: stride must be an integer, got True. Fix: e.g. --stride 2"):
        load_cleaner(out / "model.npz", stride=True)
    with pytest.raises(ValueError, match="--keep-paper 0.5: keep_paper sets how a second stage reads the first"):
        load_cleaner(out / "model.npz", keep_paper=0.5)


def test_the_commands_that_clean_take_stride_and_keep_paper_and_training_does_not(doc_model, stacked, tmp_path):
    from scratchdae import train

    out, _, _ = doc_model
    digits = train(out=tmp_path / "digits", max_train=100, epochs=1, hidden=8, quiet=True, figures=False).out
    _, two, _ = stacked
    page = (np.random.default_rng(4).uniform(0.3, 1, (20, 30)) * 255).astype(np.uint8)
    Image.fromarray(page).save(tmp_path / "p.png")
    r = run("denoise", "--model", two / "model.npz", tmp_path / "p.png", "--out", tmp_path / "d", "--stride", 1,
            "--keep-paper", 0)
    assert r.returncode == 0, r.stderr
    want = load_cleaner(two / "model.npz", stride=1, keep_paper=0)(read_page(tmp_path / "p.png"))
    np.testing.assert_array_equal(read_page(tmp_path / "d" / "p.png"), np.round(want * 255) / 255)
    for model, option, words in ((out / "model.npz", ["--keep-paper", "0.5"], "this model has one stage"),
                                 (out / "model.npz", ["--stride", "6"], "--stride 6: stride must be between 1 and"),
                                 (digits / "model.npz", ["--stride", "2"], "--stride would be ignored")):
        r = run("denoise", "--model", model, tmp_path / "p.png", "--out", tmp_path / "e", *option)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and words in r.stderr, r.stderr
        assert not (tmp_path / "e").exists()
    r = run("documents", "evaluate", "--model", two / "model.npz", "--pages", 2, "--stride", 3, "--keep-paper", 0.5,
            "--text-height", 9, "--tidy", "no", "--json")
    assert r.returncode == 0, r.stderr
    cleaning = json.loads(r.stdout)["cleaning"]
    assert {k: cleaning[k] for k in ("stride", "keep_paper", "text_height", "tidy")} == {
        "stride": 3, "keep_paper": 0.5, "text_height": 9, "tidy": "no"}
    r = run("denoise", "--model", two / "model.npz", tmp_path / "p.png", "--out", tmp_path / "f", "--tidy", "no")
    assert r.returncode == 0, r.stderr
    want = load_cleaner(two / "model.npz", tidy=False)(read_page(tmp_path / "p.png"))
    np.testing.assert_array_equal(read_page(tmp_path / "f" / "p.png"), np.round(want * 255) / 255)
    (tmp_path / "test").mkdir()
    Image.fromarray(page).save(tmp_path / "test" / "1.png")
    for stride in (1, 3):
        r = run("documents", "submit", "--model", out / "model.npz", "--test-dir", tmp_path / "test", "--csv",
                tmp_path / f"s{stride}.csv", "--stride", stride, "--json")
        assert r.returncode == 0, r.stderr
    assert (tmp_path / "s1.csv").read_text() != (tmp_path / "s3.csv").read_text()
    r = run("documents", "train", "--stride", 1)
    assert r.returncode == 2 and "unrecognized arguments: --stride" in r.stderr


def test_wide_sizes_draw_text_from_9_to_44_pixels_and_leave_the_other_pages_as_they_were():
    from scratchdae.documents.generate import SIZES, WIDE_SIZES

    plain = [make_page([6, i]) for i in range(30)]
    wide = [make_page([6, i], wide_sizes=True) for i in range(30)]
    sizes = [p.meta["font_px"] for p in wide]
    assert {p.meta["size"] for p in wide} == set(SIZES) | set(WIDE_SIZES)
    assert min(sizes) >= 9 and max(sizes) <= 44 and min(sizes) < 13 and max(sizes) > 28
    for p, w in zip(plain, wide):
        if w.meta["size"] in SIZES:  # a page that kept its usual size is the same page
            np.testing.assert_array_equal(p.noisy, w.noisy)
            assert w.meta["wide_sizes"] and "wide_sizes" not in p.meta
    with pytest.raises(TypeError, match="wide_sizes must be True or False"):
        make_page(1, wide_sizes=1)


def test_generate_writes_the_second_generators_pages_for_users_to_see(tmp_path):
    from scratchdae.documents.other_pages import make_other_page

    r = run("documents", "generate", "--out", tmp_path / "o", "--pages", 2, "--test-pages", 1, "--seed", 5,
            "--generator", "other", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["generator"] == "other"
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["generator"] == "scratchdae.documents.other_pages"
    for i, split in ((1, "train"), (2, "train"), (3, "test")):
        page = make_other_page([5, i])
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "o" / split / f"{i}.png")), page.noisy)
        assert manifest["pages"][f"{split}/{i}.png"]["damages"] == page.meta["damages"]
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "o" / "train_cleaned" / "1.png")),
                                  make_other_page([5, 1]).clean)
    r = run("documents", "generate", "--out", tmp_path / "p", "--pages", 1, "--generator", "other", "--fonts", "mono")
    assert r.returncode == 2 and "--fonts and --backgrounds would be ignored" in r.stderr
    assert not (tmp_path / "p").exists()


def test_clutter_marks_only_the_noisy_page_and_is_recorded_as_marks(tmp_path):
    from scratchdae.documents.generate import make_page

    plain, cluttered = make_page([4, 1]), make_page([4, 1], clutter=True)
    np.testing.assert_array_equal(plain.clean, cluttered.clean)  # the clean page has none of it
    changed = plain.noisy != cluttered.noisy
    assert changed.any() and cluttered.meta["clutter"] is True and "clutter" not in plain.meta
    assert cluttered.noisy[changed].astype(int).mean() < plain.noisy[changed].astype(int).mean()  # darker
    assert (cluttered.marks & ~plain.marks).any()  # where the clutter is, near marks
    with pytest.raises(TypeError, match="clutter must be True or False"):
        make_page(0, clutter="yes")
    from scratchdae.checkpoint import load_npz

    train_cleaner(out=tmp_path / "c", stages=1, clutter=True, pages=2, windows_per_page=300, epochs=1, hidden=(8,),
                  quiet=True, figures=False)
    header = load_npz(tmp_path / "c" / "model.npz", header_only=True)[1]
    assert header["documents"]["clutter"] is True and "with clutter" in header["data"]["source"]
