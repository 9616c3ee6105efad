# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 07 · Dirty documents
#
# Kaggle's *Denoising Dirty Documents*: scanned pages with coffee stains,
# folds, watermarks and wrinkles; the task is to give back the clean page,
# scored by the RMSE of pixel intensities. Here the corruption is not ours to
# choose: the dirt *is* $q(\tilde x \mid x)$, and we learn to invert it from
# (noisy, clean) pairs. The model is the same dense DAE as for digits,
# trained with the Gaussian NLL (G2), on windows of the page (a dense layer
# cannot take a whole 540×420 page).
#
# We generate the pages (the Kaggle data needs an account; a real Kaggle folder
# works the same way with `--data-dir`), hold out a font family *and* a
# background family, and measure against two classic baselines.

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np

from scratchdae.documents.evaluate import score_pages, worst_pages
from scratchdae.documents.figures import page_figure, worst_pages_figure
from scratchdae.documents.generate import BACKGROUNDS, make_page
from scratchdae.documents.other_pages import other_pages
from scratchdae.files import write_png
from scratchdae.documents.pages import global_threshold, median_background_subtraction, rmse, write_submission
from scratchdae.documents.stacked import load_cleaner
from scratchdae.documents.training import generated_pages, make_pages
from scratchdae.documents.windows import WindowSpec, paper_estimate
from scratchdae.documents import train_cleaner
from scratchdae.run.folder import new_run_dir

FAST = os.environ.get("SCRATCHDAE_TUTORIAL_FAST") == "1"
RUNS = new_run_dir("runs/tutorial07")

# %% [markdown]
# ## The pages
#
# Each page draws a font (serif, sans or typewriter; regular, bold or italic;
# footnote, normal or large), one of eight backgrounds (two of each family),
# faded and blurred ink and sensor noise, all from one seed.

# %%
fig, axes = plt.subplots(2, 4, figsize=(16, 6.5))
for ax_noisy, ax_clean, bg in zip(axes[0], axes[1], BACKGROUNDS):
    page = make_page([7, BACKGROUNDS.index(bg)], backgrounds=(bg,), height=258)
    ax_noisy.imshow(page.noisy, cmap="gray", vmin=0, vmax=255)
    ax_noisy.set_title(f"{bg} / {page.meta['font']} ({page.meta['size']})", fontsize=9)
    ax_clean.imshow(page.clean, cmap="gray", vmin=0, vmax=255)
    for ax in (ax_noisy, ax_clean):
        ax.axis("off")
plt.show()

# %% [markdown]
# ## Two classic baselines
#
# A **global threshold** (Otsu's) makes every pixel black or white. **Median
# filter background subtraction** estimates the paper under the text with a
# median filter wider than a stroke, subtracts it, and stretches what is darker
# than the paper to [0, 1]. Both on the noisy page as it is:

# %%
page = make_page([7, 0], backgrounds=("coffee",), height=258)
noisy, clean = page.noisy / np.float32(255), page.clean / np.float32(255)
baseline = {}
for name, out in [("noisy page", noisy), ("global threshold", global_threshold(noisy)),
                  ("median background subtraction", median_background_subtraction(noisy))]:
    baseline[name] = rmse(out, clean)
    print(f"{name:<32} RMSE {baseline[name]:.4f}")
assert baseline["median background subtraction"] < baseline["noisy page"]

# %% [markdown]
# Median background subtraction helps: dividing out the paper removes most of
# the stain. The global threshold can do worse than doing nothing, and on
# stained pages it usually does: one threshold for the whole page turns the
# dark rim of a coffee ring into ink and faded strokes into paper, and every
# such pixel costs the full error of 1 where the noisy page was off by a
# fraction. The metric counts every pixel, most of them paper, so a method
# must first do no harm on the paper.

# %% [markdown]
# ## What the model sees
#
# For every window position: the 9×9 window of the noisy page; the same
# window divided by an estimate of the paper (a max filter wider than a
# stroke, then smoothed: stains and shadows multiply the paper, so the ratio
# is mostly ink); and a coarse 9×9 grid of that ratio over a window three
# times wider (a line of text, a big watermark letter or a crease look
# different at that scale). The model predicts the clean 5×5 patch around the
# window's centre. Windows sit 2 pixels apart, so each pixel is covered by
# several patches, whose predictions are averaged.

# %%
spec = WindowSpec(window=9, patch=5, stride=2)  # the defaults of scratchdae documents train
fig, axes = plt.subplots(1, 3, figsize=(16, 3))
for ax, (title, img) in zip(axes, [("noisy", noisy), ("paper estimate", paper_estimate(noisy, spec)),
                                   ("noisy / paper", np.clip(noisy / paper_estimate(noisy, spec), 0, 1))]):
    ax.imshow(img, cmap="gray", vmin=0, vmax=1)
    ax.set_title(title)
    ax.axis("off")
plt.show()
print(f"{spec.n_features} inputs per window, {spec.n_outputs} outputs")

# %% [markdown]
# ## Training, with a font family and a background family held out
#
# Train on serif and sans pages with coffee, folded and wrinkled paper only;
# test on typewriter pages with watermarks: text and dirt the model never saw.
#
# By default the cleaner has two stages (a *stacked* DAE, Vincent et al.
# 2010). The first is the model above. The second reads the same windows of
# the noisy page *and* the first stage's cleaned page, as a 9×9 window and as
# a coarse 9×9 grid over 63×63 pixels, and predicts the clean patch again:
#
# $$\hat x^{(1)} = \mathrm{Clean}_1(\tilde x), \qquad \hat x = \mathrm{Clean}_2(\tilde x, \hat x^{(1)}) \qquad \text{(PG2)}$$
#
# where each $\mathrm{Clean}$ slides its network over the page and averages
# the overlapping patches (PG1). Most of a page is paper: where every pixel of
# the first stage's 9×9 window is already at least 0.99, there is nothing left
# to correct, and the second stage keeps the first stage's patch without
# running its network (PG3). That is about half of the windows, and a quarter
# of the cleaning time.
#
# The second stage trains on fresh pages the first stage never trained on,
# and reads the first stage's output computed exactly as at cleaning time:
# on its own training pages the first stage would be better than on new ones,
# and the second stage would learn to trust it too much.

# %%
# in class: the defaults (two stages of 96 pages each, about 10 minutes on 2 cores); the test suite: a quick version
settings = dict(pages=16, windows_per_page=4000, epochs=8, hidden=(128, 64)) if FAST else {}
started = time.perf_counter()
result = train_cleaner(out=RUNS / "model", fonts="serif,sans", backgrounds="coffee,folded,wrinkled",
               quiet=True, figures=False, **settings)
print(f"trained both stages in {time.perf_counter() - started:.0f} s")
for h in result.history[:: max(1, len(result.history) // 5)]:
    print(f"stage 2, epoch {h['epoch']:>2}: validation RMSE {np.sqrt(h['val_mse']):.4f} on sampled windows (half "
          "near ink, so higher than on whole pages)")

# %%
test_pairs, metas = generated_pages(3 if FAST else 12, 2024, "test", fonts="mono", backgrounds="watermark")
cleaner = load_cleaner(RUNS / "model" / "model.npz")  # both stages, from one file
first_stage = cleaner.first_stage()  # the first stage alone, to see what the second adds
scores = score_pages(test_pairs, cleaner, others={"first stage alone": first_stage})
for name, value in scores["rmse"].items():
    print(f"{name:<32} RMSE {value:.4f}")
print(f"cleaning took {scores['seconds_per_page']:.2f} s per page, both stages")
assert scores["rmse"]["model"] < scores["rmse"]["median background subtraction"] < scores["rmse"]["noisy page"]

# %%
noisy, clean = test_pairs[0]
path = page_figure(RUNS / "pages.png", noisy, cleaner(noisy), clean,
                   f"unseen font ({metas[0]['font']}) on unseen paper ({metas[0]['background']})")
plt.figure(figsize=(16, 5))
plt.imshow(plt.imread(path))
plt.axis("off")
plt.show()

# %% [markdown]
# ## Where the errors are: fonts, sizes, papers, and marks that are not text
#
# The post this package started from said its DAE "struggled with the
# various font types and sizes". So we measure by font family, size and
# paper, on fresh pages of every family (two of them held out of training
# above). The generator also records where it drew marks that are not text
# (a stain's rim, a crease, a ridge, a watermark), so the error near them is
# measured apart. And a second generator, `other_pages`, draws pages the
# model's training never resembled: forms and letters, a skewed scan, pen
# scribbles, photocopier streaks, tape, the back of the sheet showing
# through.

# %%
made = make_pages(6 if FAST else 24, 54321, "test")
pairs = [p.floats() for p in made]  # (noisy, clean) in [0, 1]
by = score_pages(pairs, cleaner, meta=[p.meta for p in made], near_marks=[p.marks for p in made],
                 others={"first stage alone": first_stage})
for group, values in by["by"].items():
    print(f"RMSE by {group} (first stage alone -> both stages): " +
          ", ".join(f"{v} {s['first stage alone']:.4f} -> {s['model']:.4f} ({s['pages']} pages)"
                    for v, s in values.items()))
for where, s in by["marks"].items():
    print(f"{where:<10}: {s['pixels']:>9,} pixels, noisy {s['noisy page']:.4f}, first stage "
          f"{s['first stage alone']:.4f}, both stages {s['model']:.4f}")
assert by["marks"]["near marks"]["model"] > by["marks"]["elsewhere"]["model"]  # the marks are the hard part

other = other_pages(3 if FAST else 12, 12345)
elsewhere = score_pages([p.floats() for p in other], cleaner, near_marks=[p.marks for p in other],
                        others={"first stage alone": first_stage})
print(f"second generator: model RMSE {elsewhere['rmse']['model']:.4f} (noisy {elsewhere['rmse']['noisy page']:.4f});"
      f" near its marks {elsewhere['marks']['near marks']['model']:.4f}, elsewhere "
      f"{elsewhere['marks']['elsewhere']['model']:.4f}")
assert elsewhere["marks"]["near marks"]["model"] > elsewhere["marks"]["elsewhere"]["model"]

rows = [(other[i].noisy / 255, cleaner(other[i].floats()[0]), other[i].clean / 255,
         ", ".join(other[i].meta["damages"])) for i in worst_pages(elsewhere, 2)]
path = worst_pages_figure(RUNS / "worst-other.png", rows)
plt.figure(figsize=(16, 9))
plt.imshow(plt.imread(path))
plt.axis("off")
plt.show()

# %% [markdown]
# The font family the model never saw is the hardest, and large print is
# the easiest; but the largest errors are on the marks. In a 9×9 window a
# crease, a scribble or a photocopier's streak looks like a letter's stroke,
# so the first stage inks it: on the second generator's pages it draws them
# as crisp black lines, and its error near them is well above its error
# elsewhere (the numbers above), straight streaks made paper after the last
# stage and all. The second stage sees 63×63 pixels of the first stage's output,
# where a crease is a line crossing the text lines. Look at what it changes,
# on the page of every family whose marks the first stage cleaned worst:

# %%
def near_marks_rmse(cleaned, page):
    return rmse(cleaned[page.marks], page.clean[page.marks] / 255)


worst = max(made, key=lambda p: near_marks_rmse(first_stage(p.floats()[0]), p) if p.marks.any() else 0)
noisy, clean = worst.floats()
after_one, after_two = first_stage(noisy), cleaner(noisy)
rows, cols = np.nonzero(worst.marks)
r0, c0 = max(0, int(np.median(rows)) - 60), max(0, int(np.median(cols)) - 120)  # around the marks' middle
crop = (slice(r0, r0 + 120), slice(c0, c0 + 240))
fig, axes = plt.subplots(1, 4, figsize=(16, 2.6))
for ax, (title, img) in zip(axes, [("noisy", noisy), (f"first stage ({near_marks_rmse(after_one, worst):.3f})",
                                                      after_one),
                                   (f"both stages ({near_marks_rmse(after_two, worst):.3f})", after_two),
                                   ("truth", clean)]):
    ax.imshow(img[crop], cmap="gray", vmin=0, vmax=1)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
plt.suptitle(f"{worst.meta['background']} paper, {worst.meta['font']}: RMSE near its marks in brackets", fontsize=10)
plt.show()

# %% [markdown]
# Read the numbers in brackets before the pictures: on the page whose marks
# the first stage cleaned worst, the second stage changes little near them.
# The wide view was meant for exactly this, a long mark crossing the text
# lines, and what the first stage left there the second mostly keeps. Over
# the 24 pages it helps every font, size and paper a little and the pixels
# near marks most (the lines above), so it is a better cleaner, not yet the
# cure for creases. Nor does it rescue the second generator's scribbles:
# damage of a kind neither stage ever saw is still inked, all but the
# straight streaks and lone specks, which the cleaner makes paper after its
# last stage (the section on real pages below). The default
# training also takes a quarter of each page's windows near its marks
# (`--mark-windows 0.25`), which did more for the marks than the second
# stage; docs/documents.md has the measurements, with what else was tried
# (line features; pages of more variety, `--variety`).

# %% [markdown]
# ## Read by OCR, and text of any size
#
# RMSE counts pixels; a reader counts words. A faint stroke kept and a crisp
# black streak invented cost about the same pixels, but only the streak makes
# OCR read a letter that is not there. So we let tesseract read each page
# (installed apart: `apt-get install tesseract-ocr`, then
# `pip install -e '.[ocr]'`) and compare its reading with its reading of the
# clean page: the character error rate, CER, is the edit distance (E1)
# between the two texts over the clean text's length (E2). On the command
# line: `scratchdae documents evaluate --model model.npz --ocr`.

# %%
from scratchdae.documents.filters import resize
from scratchdae.documents.ocr import error_rates, read_texts, tesseract_available
from scratchdae.documents.scale import text_height

methods = {"noisy page": lambda p: p, "median background subtraction": median_background_subtraction,
           "model": cleaner}
reading = test_pairs[:1 if FAST else 4]
if tesseract_available():
    references = read_texts([clean for _, clean in reading])
    for name, method in methods.items():
        texts = read_texts([method(noisy) for noisy, _ in reading])
        print(f"{name:<32} CER {error_rates(texts, references)['cer']:.3f}")
else:
    print("tesseract is not installed here: apt-get install tesseract-ocr; pip install -e '.[ocr]'")

# %% [markdown]
# The model learned what strokes look like at the text sizes of its training
# pages. A page scanned at 300 dpi has text about 2.5 times taller: seen
# through a 9×9 window, the inside of a stroke looks like a stain. So the
# cleaner estimates each page's text height (the median height of its ink's
# connected components, weighted by their ink: `documents/scale.py`), and a
# page whose text is taller or shorter than its training pages' is resampled
# to their size, cleaned, and resampled back. Below, one page at three sizes:
# the estimated height, the factor the cleaner resamples by, and the page
# cleaned with and without resampling.

# %%
def resized(page, f):
    return np.clip(resize(page, round(page.shape[0] * f), round(page.shape[1] * f)), 0, 1)


noisy, clean = test_pairs[1 if len(test_pairs) > 1 else 0]
native = cleaner.cleaning(rescale=False)  # every page at its own size
print(f"training pages' text heights: {cleaner.text_heights[0]:.0f} to {cleaner.text_heights[1]:.0f} pixels")
fig, axes = plt.subplots(3, 3, figsize=(15, 7))
for row, f in zip(axes, (1.0, 2.5, 0.6)):
    page, truth = resized(noisy, f), resized(clean, f)
    outputs = {"noisy": page, "at its own size": native(page), "resampled": cleaner(page)}
    line = f"{f}x: text height {text_height(page):.0f} px, resampled by {cleaner.scale_of(page):.2f}"
    if tesseract_available():
        ref = read_texts([truth])[0]
        line += "; CER " + ", ".join(f"{name} {error_rates([text], [ref])['cer']:.3f}" for name, text in
                                     zip(outputs, read_texts(list(outputs.values()))))
    print(line)
    h, w = page.shape
    for ax, (name, img) in zip(row, outputs.items()):
        ax.imshow(img[: h // 3, : w // 2], cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"{f}x, {name}", fontsize=9)
        ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# At 1x the two cleanings are the same page: its text is inside the training
# range. At 2.5x compare the middle and right panels (and their CER, where
# tesseract is installed): at its own size the model looks at the insides of
# thick strokes through its small window; resampled, it cleans a page like
# its training pages. Tiny text (0.6x) is enlarged only when its estimate
# falls below the training range. docs/documents.md measures all of this by
# OCR over many pages of both generators, at 2.5x and 0.6x, on a real scanned
# page (`skimage.data.page()`) and on an A4 page at 300 dpi.

# %% [markdown]
# ## Real pages
#
# The model trained on generated pages; a user brings a scan or a photograph.
# scikit-image ships two real images of text (`pip install scikit-image`):
# `data.page()`, a scanned book page lit unevenly, and `data.text()`, a
# photograph of handwritten formulas on ruled paper. We clean both with the
# command a user runs, `scratchdae denoise`, and the book page a second time
# as light text on dark paper (its negative), which the cleaner tells by
# itself and cleans as its negative. Tesseract reads each image before and
# after; the book page is scored against a hand transcription of it (kept
# with the tests).

# %%
import subprocess
import sys
from pathlib import Path

import scratchdae
from scratchdae.documents.pages import read_page

try:
    from skimage import data as skdata
except ImportError:
    skdata = None
    print("scikit-image is not installed here: pip install scikit-image, to see the real pages")
if skdata is not None:
    real = {"book page": skdata.page(), "book page, negative": 255 - skdata.page(), "handwriting": skdata.text()}
    names = {name: name.replace(", ", "-").replace(" ", "-") + ".png" for name in real}
    for name, image in real.items():
        write_png(RUNS / "real" / names[name], image)
    subprocess.run([sys.executable, "-m", "scratchdae", "denoise", "--model", str(RUNS / "model" / "model.npz"),
                    "--out", str(RUNS / "real-cleaned"), "--quiet",
                    *(str(RUNS / "real" / n) for n in names.values())], check=True)
    cleaned = {name: read_page(RUNS / "real-cleaned" / names[name]) for name in real}
    transcription = Path(scratchdae.__file__).resolve().parents[1] / "tests" / "data" / "skimage_page.txt"
    fig, axes = plt.subplots(len(real), 2, figsize=(12, 9))
    for row, name in zip(axes, real):
        line = f"{name}: "
        if tesseract_available():
            before, after = read_texts([real[name] / 255, cleaned[name]])
            if name.startswith("book") and transcription.exists():
                ref = transcription.read_text(encoding="utf-8")
                line += (f"CER before {error_rates([before], [ref])['cer']:.3f}, "
                         f"after {error_rates([after], [ref])['cer']:.3f}")
            else:
                line += f"tesseract reads {len(before.split())} words before, {len(after.split())} after"
        print(line)
        for ax, image, title in zip(row, (real[name] / 255, cleaned[name]), ("as it came", "scratchdae denoise")):
            ax.imshow(image, cmap="gray", vmin=0, vmax=1)
            ax.set_title(f"{name}, {title}", fontsize=9)
            ax.axis("off")
    plt.tight_layout()
    plt.show()

# %% [markdown]
# The numbers above are this notebook's small model's. The default model
# (`scratchdae documents train`), measured in docs/documents.md, takes the
# book page from CER 0.438 to 0.010 (tesseract copes with the uneven light
# far worse than with the cleaned page), and its negative comes back a
# negative, cleaned the same. The handwriting is another matter: tesseract
# was not made for handwriting, so whatever it reads is not the formulas,
# before or after; and the model, which has only ever seen print, keeps the
# dark strokes but loses some of the faint ones in the shadows (compare the
# two pictures). It keeps the ruled lines too, thinner. After its last stage
# the cleaner makes paper of the ink it drew that is unlike text: straight
# rules longer than five text heights and lone specks (`documents/tidy.py`;
# `--tidy no` keeps them, for a form's rules). A rule is looked for along rows
# and columns only, so these slanted lines are kept.

# %% [markdown]
# ## A Kaggle submission
#
# One CSV row per pixel, `image_row_col,value`, streamed to disk (a full test
# set is about 15 million rows). On the command line:
# `scratchdae documents submit --model model.npz --test-dir test/ --csv submission.csv`.

# %%
test_dir = RUNS / "test"
for i, (noisy, _) in enumerate(test_pairs[:2], start=1):
    write_png(test_dir / f"{i}.png", np.round(noisy * 255).astype(np.uint8))
rows = write_submission(RUNS / "submission.csv", sorted(test_dir.iterdir()), cleaner, log=lambda *a: None)
with open(RUNS / "submission.csv") as f:
    print("".join(next(f) for _ in range(4)), f"... {rows:,} rows")

# %% [markdown]
# ## Exercises
#
# 1. Train with `--window 5` and with `--window 13`. Which errors does the
#    wider window fix, and what does it cost in cleaning time per page?
# 2. The Otsu baseline is worse than the noisy page. Look at its output on a
#    coffee-stained page: what does a global threshold do wrong?
# 3. Hold out a different font family (`fonts=`) and compare the RMSE. Which
#    family is hardest, and why might it be?
# 4. Train a second stage on top of your first that runs on every window
#    (`train_cleaner(..., first_stage=RUNS / "model" / "first-stage" /
#    "model.npz", keep_paper=0)`). Does the error near marks change? What
#    does that say about where the second stage works?
