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
# # 05 · What a DAE learns: the centre of mass and the score
#
# Tutorial 03 trained a DAE to minimise $-\log p(x \mid h = E(\tilde x))$.
# Here we ask what function it converges to. Section 9 of
# [the derivations](../docs/derivations.md) answers in three lines:
#
# * the best denoiser is the **posterior mean**, the centre of mass of the
#   clean points that could have produced $\tilde x$:
#   $r^\star(\tilde x) = \mathbb{E}[x \mid \tilde x]$ (S1), for every loss of the package (S2);
# * for unclipped Gaussian noise of level $s$, Tweedie's formula makes that a
#   step along the **score** of the noise-smoothed density $p_s$:
#   $\mathbb{E}[x \mid \tilde x] = \tilde x + s^2 \nabla \log p_s(\tilde x)$ (S3);
# * so $(r(x) - x)/s^2$ estimates $\nabla \log p_s(x)$ (S4).
#
# We check all three where the answers are known exactly (2-D mixtures of
# Gaussians, (TM1)-(TM3)), then go back to digits, where the same
# posterior-mean view shows what memorising would be, and that the DAE does
# not do it.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from scratchdae import (get_backend, get_corruption, get_toy, load_dataset, prepare_images, reconstruct, to_host,
                        train)
from scratchdae.figures import field_grid, plot_field
from scratchdae.metrics import psnr
from scratchdae.score import score_report
from scratchdae.run.folder import new_run_dir
from scratchdae.tasks import split_train_val

FAST = os.environ.get("SCRATCHDAE_TUTORIAL_FAST") == "1"
RUNS = new_run_dir("runs/tutorial05")
be = get_backend()  # NumPy unless SCRATCHDAE_BACKEND says otherwise

# %% [markdown]
# ## 1. A 2-D world with exact answers
#
# `mixture8` is eight Gaussian blobs (std 0.1) on a circle of radius 2. Adding
# noise of level $s$ to a point of a blob gives a blob of variance
# $0.1^2 + s^2$, so the smoothed density $p_s$ (TM1), its score (TM2) and the
# posterior mean (TM3) are all closed-form sums over the eight blobs.

# %%
mixture = get_toy("mixture8")
print(mixture)
points = mixture.sample(2000, seed=0)
grid = field_grid(points, 19)
fig, axes = plt.subplots(1, 3, figsize=(15, 5))
for ax, s in zip(axes, [0.1, 0.3, 0.5]):
    plot_field(ax, grid, s**2 * mixture.score(grid, s), mixture=mixture, s=s, color="C0",
               title=f"exact $s^2 \\nabla \\log p_s$, s = {s}")
plt.show()

# %% [markdown]
# Each arrow starts at a point $x$ and ends at $\mathbb{E}[x_{\text{clean}} \mid \tilde x = x]$:
# where the noise most likely came from, on average. With $s = 0.1$ (as
# wide as a blob) each arrow points to the nearest blob and, at a blob's
# edge, reaches half way in, $s^2 / (0.1^2 + s^2)$; with more noise the
# density is blurred into a ring and the arrows point to the ring.
#
# ## 2. Train a DAE on it, at three noise levels
#
# `train(dataset="toy:mixture8")` draws 20,000 points (3,000 in the fast
# mode the tests use) and applies the
# low-dimensional defaults: a 2-128-128-128-2 network with a linear output
# (points are not pixels), a cosine learning-rate schedule run to the end.
# Nothing in the training knows about scores: it only denoises, (G2).

# %%
levels = [0.1, 0.3, 0.5]
toy_kw = dict(n_points=3000, epochs=250) if FAST else {}
toy = {s: train(dataset="toy:mixture8", noise=f"gaussian:{s}", out=RUNS / f"toy_{s}", quiet=True, figures=False,
                **toy_kw) for s in levels}

fig, axes = plt.subplots(2, 3, figsize=(15, 10))
for c, s in enumerate(levels):
    model, loss = toy[s].model, toy[s].loss
    learned = to_host(reconstruct(model, loss, be.asarray(grid, dtype="float32"))) - grid  # r(x) - x
    plot_field(axes[0, c], grid, learned, mixture=mixture, s=s, title=f"DAE: r(x) - x, s = {s}")
    plot_field(axes[1, c], grid, s**2 * mixture.score(grid, s), mixture=mixture, s=s, color="C0",
               title=f"exact: $s^2 \\nabla \\log p_s$ (TM2), s = {s}")
plt.show()

# %% [markdown]
# How close? `score_report` (what `scratchdae score` prints) draws 20,000
# noisy points $\tilde x \sim p_s$ and compares, at each, the learned
# $(r(\tilde x) - \tilde x)/s^2$ (S4) with the exact score: the cosine between
# the two fields (every point weighted by the density it was drawn from),
# their relative L2 error, and the ratio of their lengths. It also compares
# the DAE's denoising error with the **Bayes error**, the error of the exact
# posterior mean (TM3): no denoiser can do better (S1).

# %%
reports = {s: score_report(toy[s].model, toy[s].loss, mixture, s, n=20000) for s in levels}
print(f"{'s':>4} {'cosine':>8} {'rel. L2':>8} {'norm ratio':>10} {'MSE noisy':>10} {'MSE DAE':>9} "
      f"{'MSE Bayes':>10} {'DAE/Bayes':>9}")
for s, r in reports.items():
    f, d = r["field"], r["denoising"]
    print(f"{s:>4} {f['cosine']:>8.4f} {f['rel_l2']:>8.3f} {f['norm_ratio']:>10.3f} {d['mse_noisy']:>10.5f} "
          f"{d['mse_model']:>9.5f} {d['mse_bayes']:>10.5f} {d['ratio_to_bayes']:>9.4f}")
for s, r in reports.items():
    assert r["field"]["cosine"] > (0.9 if FAST else 0.98), (s, r["field"])
    assert r["denoising"]["ratio_to_bayes"] < (1.25 if FAST else 1.02), (s, r["denoising"])

# %% [markdown]
# In full mode the DAE's error is within 2% of the Bayes error at every
# level, and its field points the way the exact score points (fast mode
# trains for a few seconds, and misses at s = 0.1 by more). Denoising score
# matching (S5) says these are one fact: the DAE's excess error over the
# Bayes error is $s^4$ times the mean squared error of its score. The
# identity holds in expectation; on 20,000 points the two sides differ by a
# cross term that is zero on average, printed with its standard error.

# %%
for s, r in reports.items():
    d = r["denoising"]
    print(f"s = {s}: MSE DAE - MSE Bayes = {d['excess']:.2e};  s^4 x score error = {d['excess_from_score']:.2e};"
          f"  difference {d['cross_term']:+.1e} (standard error {d['cross_term_se']:.1e})")
    assert abs(d["excess"] - d["excess_from_score"]) < 4 * d["cross_term_se"] + 1e-12

# %% [markdown]
# ## 3. The centre of mass, seen
#
# Take a noisy point $\tilde x$. Which clean points could have produced it?
# Each clean $x$ did with probability density $q(\tilde x \mid x) = \mathcal{N}(\tilde x; x, s^2 I)$
# (C1). Weight a large sample of clean points by it: their weighted mean is
# a Monte Carlo estimate of $\mathbb{E}[x \mid \tilde x]$, the centre of
# mass (S1). Compare it with the DAE's $r(\tilde x)$ and with (TM3).

# %%
s = 0.5
noisy_points = np.array([[0.0, 0.0], [1.9, 1.0], [2.6, -0.3], [-0.6, -1.2]])
clean = mixture.sample(20000, seed=1, dtype="float64")
r_dae = to_host(reconstruct(toy[s].model, toy[s].loss, be.asarray(noisy_points, dtype="float32")))
fig, axes = plt.subplots(1, len(noisy_points), figsize=(16, 4.4))
for ax, xt, r in zip(axes, noisy_points, r_dae):
    w = np.exp(-((clean - xt) ** 2).sum(1) / (2 * s**2))  # q(x~ | x) for every clean point x  (C1)
    w /= w.sum()
    centre = w @ clean  # the centre of mass of the clean points, weighted by how likely each made x~
    exact = mixture.posterior_mean(xt[None], s)[0]  # (TM3)
    ax.scatter(clean[:4000, 0], clean[:4000, 1], s=3, c=w[:4000], cmap="viridis")
    ax.plot(*xt, "k+", ms=14, mew=2, label="noisy point x~")
    ax.plot(*centre, "o", mfc="none", mec="C1", ms=14, mew=2, label="weighted centre (Monte Carlo)")
    ax.plot(*exact, "x", c="C0", ms=10, mew=2, label="exact E[x | x~] (TM3)")
    ax.plot(*r, ".", c="C3", ms=10, label="DAE r(x~)")
    ax.set_aspect("equal")
    ax.set_title(f"x~ = ({xt[0]:.1f}, {xt[1]:.1f})", fontsize=10)
    print(f"x~ = {xt}: centre of mass {centre.round(3)}, exact {exact.round(3)}, DAE {r.round(3)}")
    assert np.linalg.norm(centre - exact) < 0.05  # Monte Carlo agrees with (TM3)
    if mixture.log_density(xt[None], s)[0] > -6:  # where p_s is not tiny, the DAE saw noisy points to learn from
        assert np.linalg.norm(r - exact) < (0.15 if FAST else 0.1)
axes[0].legend(fontsize=8, loc="lower left")
plt.show()

# %% [markdown]
# At $(0, 0)$, equally far from all eight blobs, the centre of mass is the
# middle of the ring: the mean of a posterior need not be a likely point.
# The DAE is least accurate there, because $p_s$ is small there and few
# noisy training points landed nearby; it learns the field where the noisy
# data are. Everywhere else the point is pulled towards the blobs that
# could have made $\tilde x$, and the DAE agrees with the exact answer.
#
# ## 4. Digits: the posterior mean of the training set memorises; the DAE does not
#
# On digits we cannot write $\mathbb{E}[x \mid \tilde x]$ down, but we can try
# the Monte Carlo estimate of section 3 with the training digits as the clean
# sample: $\hat r(\tilde x) = \sum_i w_i x_i$ with $w_i \propto \exp(-\lVert \tilde x - x_i \rVert^2 / 2s^2)$.
# It is the exact posterior mean of the *empirical* distribution of the
# training digits. Compare it with a DAE trained on the same digits, on noisy
# versions of training digits and of test digits it has never seen.

# %%
data = load_dataset("mnist-sample", log=lambda *a: None)
n_train = 2000 if FAST else len(data.train_images)
dae = train(out=RUNS / "digits", max_train=n_train, val_fraction=0.1, epochs=8 if FAST else 30, quiet=True,
            figures=False)
fit, _ = split_train_val(n_train, 0.1, seed=0)  # the rows train() fitted; it held the other 10% out
X_train = prepare_images(data.train_images[:n_train], "float64")[fit]  # the oracle's sample: the same digits
seen = X_train[:200]  # digits the DAE trained on
unseen = prepare_images(data.test_images[:200], "float64")
corrupt = get_corruption("gaussian:0.5")


def oracle(x_tilde, reference, s=0.5):
    """The posterior mean of the empirical distribution of ``reference``: a softmax over squared distances."""
    d2 = (x_tilde**2).sum(1)[:, None] - 2 * x_tilde @ reference.T + (reference**2).sum(1)[None]  # N,M
    logw = -d2 / (2 * s**2)
    w = np.exp(logw - logw.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    top2 = np.sort(logw, axis=1)[:, -2:]
    # the estimate; the effective number of digits averaged; how many nats the nearest digit's weight leads by
    return w @ reference, 1 / (w**2).sum(1), top2[:, 1] - top2[:, 0]


rows = {}
for name, x in [("training digits", seen), ("unseen test digits", unseen)]:
    x_tilde = corrupt(x, np.random.default_rng(5))  # float64 rows, on the host
    est, n_eff, lead = oracle(x_tilde, X_train)
    r = to_host(reconstruct(dae.model, dae.loss, be.asarray(x_tilde, dtype="float32")))
    rows[name] = {"noisy": psnr(np.mean((x_tilde - x) ** 2)), "oracle": psnr(np.mean((est - x) ** 2)),
                  "dae": psnr(np.mean((r - x) ** 2)), "n_eff": float(np.median(n_eff)),
                  "lead": float(np.median(lead))}
print(f"{'':<20} {'noisy':>8} {'posterior mean of':>18} {'DAE':>8}   digits the oracle   nearest digit's lead")
print(f"{'PSNR (dB) on':<20} {'':>8} {'the training set':>18} {'':>8}   averages (median)   in nats (median)")
for name, r in rows.items():
    print(f"{name:<20} {r['noisy']:>8.2f} {r['oracle']:>18.2f} {r['dae']:>8.2f}   {r['n_eff']:>17.3f}   "
          f"{r['lead']:>18.1f}")

# %% [markdown]
# The empirical posterior mean gives a training digit back almost perfectly,
# and fails on a digit it has not seen, where it returns the nearest training
# digit, often a different one. Why: in 784 dimensions the squared distances
# from $\tilde x$ to the training digits differ by units, and divided by
# $2s^2 = 0.5$ the weights differ by factors of $e$ to that. For a noisy
# training digit its own clean version is far nearer than any other (the
# last column: its weight leads the next by some 40 nats, a factor of
# $e^{40}$); for an unseen digit the lead is a few nats, which still puts
# nearly all the weight on one digit. Either way the softmax collapses onto
# a single digit (the effective number averaged is about 1). At more noise
# it would not: at $s = 1$ the median unseen digit averages about 2 training
# digits, at $s = 2$ about 19 (exercise 4).
#
# That is the exact answer for the sample of training digits, and it is
# memorisation. Note what it also is: the minimiser of the DAE's own
# objective on these digits. Fresh noise at every step does not prevent it,
# since the expectation over the noise of the squared error on a finite set
# of digits is minimised exactly by this posterior mean of the sample. The
# DAE here does not reach it: it scores about the same on seen and unseen
# digits, and estimates something closer to the posterior mean of the
# *distribution* the digits came from.

# %%
assert rows["training digits"]["oracle"] > rows["training digits"]["dae"] + 10  # the oracle recalls
assert rows["unseen test digits"]["dae"] > rows["unseen test digits"]["oracle"] + (0.5 if FAST else 2)
assert abs(rows["training digits"]["dae"] - rows["unseen test digits"]["dae"]) < 1.5  # the DAE generalises
assert rows["unseen test digits"]["n_eff"] < 1.5
assert rows["training digits"]["lead"] > 4 * rows["unseen test digits"]["lead"]  # a seen digit's own is far nearest

# %% [markdown]
# What keeps it from the minimiser, then? Not the noise: what is left is a
# network of limited size, trained for a limited number of steps, on
# enough digits. Shrink the data and the DAE memorises. Here the same
# network is trained on 270 digits (the first 300, less the tenth held
# out), repeated so that an epoch is about 5,000 digits, with early
# stopping off, and measured on digits it saw and digits it did not, after
# a short and after a long run.

# %%
few_n = 300
few_fit, few_val = split_train_val(few_n, 0.1, seed=0)
few_rows = prepare_images(data.train_images[:few_n], "float64")
few_seen = few_rows[few_fit][:200]
marks = (300, 1000) if FAST else (300, 3000)
few_noisy = {"seen": corrupt(few_seen, np.random.default_rng(6)), "unseen": corrupt(unseen, np.random.default_rng(7))}
few_clean = {"seen": few_seen, "unseen": unseen}
measured_at, step_count = {}, [0]


def measure_at_marks(epoch, step, run):
    """on_step: after the steps in `marks`, the PSNR on seen and unseen digits; stop after the last."""
    step_count[0] += 1
    if step_count[0] in marks:
        measured_at[step_count[0]] = {
            k: psnr(np.mean((to_host(reconstruct(run.model, run.loss, be.asarray(v, dtype="float32"))) - few_clean[k])
                            ** 2)) for k, v in few_noisy.items()}
    if step_count[0] == marks[-1]:
        run.stop()


reps = 5000 // len(few_fit)
train(inputs=np.tile(few_rows[few_fit], (reps, 1)).astype(np.float32),
      val_inputs=few_rows[few_val].astype(np.float32), out=RUNS / "few_digits", noise="gaussian:0.5",
      epochs=marks[-1] * 64 // (reps * len(few_fit)) + 2, patience=0, quiet=True, figures=False,
      on_step=measure_at_marks)
print(f"{'':<28} {'seen':>8} {'unseen':>8} {'gap':>6}  (PSNR, dB)")
print(f"{'default DAE, 6,300 digits':<28} {rows['training digits']['dae']:>8.2f} "
      f"{rows['unseen test digits']['dae']:>8.2f} "
      f"{rows['training digits']['dae'] - rows['unseen test digits']['dae']:>6.2f}")
for steps_done, r in measured_at.items():
    print(f"{f'270 digits, {steps_done:,} steps':<28} {r['seen']:>8.2f} {r['unseen']:>8.2f} "
          f"{r['seen'] - r['unseen']:>6.2f}")
few_gap = {k: r["seen"] - r["unseen"] for k, r in measured_at.items()}
assert few_gap[marks[-1]] > few_gap[marks[0]] + 1.0  # the longer it trains, the more it memorises
assert few_gap[marks[-1]] > 2.0 + abs(rows["training digits"]["dae"] - rows["unseen test digits"]["dae"])

# %% [markdown]
# On 270 digits the same network opens a gap of several dB between the
# digits it saw and those it did not, growing with every step, while its
# score on unseen digits stops improving: it has started down the road to
# the oracle, which recalls seen digits perfectly and fails unseen ones.
# `benchmarks/memorisation.py` maps the road (docs/what_a_dae_learns.md,
# section 4): the gap grows with the width of the network, with the length
# of training and as the digits get fewer. With the full 6,300 digits the
# default network's gap stays below about 1 dB even after 10,000 steps, three
# times its usual training; on 900 digits it reaches 6 dB. So (S4)'s "a
# trained DAE estimates the score" means the score of the data's
# distribution only in the regime where the seen/unseen gap is near 0;
# past it, the DAE drifts towards the score of its training sample, which
# points at the nearest training digit.

# %% [markdown]
# ## 5. The output is a conditional mean: calibration
#
# If $r_d(\tilde x) = \mathbb{E}[x_d \mid \tilde x]$, then among all pixels where
# the DAE says 0.3, the clean pixels average 0.3. Group the DAE's outputs on
# the 1,000 test digits into ten bins and compare, bin by bin, the average
# prediction with the average clean value (a reliability diagram).

# %%
x = prepare_images(data.test_images)
x_tilde = corrupt(be.asarray(x), be.rng(7))
r = np.clip(to_host(reconstruct(dae.model, dae.loss, x_tilde)), 0, 1).ravel()
truth = x.ravel()
bins = np.minimum((r * 10).astype(int), 9)
mean_pred = np.array([r[bins == k].mean() for k in range(10)])
mean_true = np.array([truth[bins == k].mean() for k in range(10)])
count = np.bincount(bins, minlength=10)
fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.plot([0, 1], [0, 1], "k:", lw=1)
ax.plot(mean_pred, mean_true, "o-")
ax.set_xlabel("DAE output r(x~), bin average")
ax.set_ylabel("clean pixel x, bin average")
ax.set_title("calibration on unseen test digits")
plt.show()
for k in range(10):
    print(f"bin {k / 10:.1f}-{(k + 1) / 10:.1f}: {count[k]:>7} pixels, predicted {mean_pred[k]:.3f}, "
          f"clean {mean_true[k]:.3f}")
assert np.max(np.abs(mean_pred - mean_true)) < (0.12 if FAST else 0.06)

# %% [markdown]
# Calibration is necessary, not sufficient: a denoiser that ignored
# $\tilde x$ and always answered each pixel's average brightness would be
# calibrated too (each pixel's answer is the mean of the clean values it is
# given for), and useless. The PSNR of section 4 is
# what says the DAE also uses $\tilde x$.

# %% [markdown]
# ## What to take away
#
# * A DAE does not learn "to remove noise" in some vague sense: it estimates
#   $\mathbb{E}[x \mid \tilde x]$ (S1), and we could check it against the exact
#   answer to within a few percent of the Bayes error.
# * With Gaussian noise that estimate is a step along the score of the
#   blurred data density (S3)-(S4). Small $s$ gives the score of the data
#   itself, but a field $s^2$ times shorter that the network must get right
#   to within $s^2$ (S6); large $s$ gives a smooth, easy field of a blurred
#   density. (Our smallest $s$, 0.1, is as wide as a blob: still far from
#   that limit.)
# * Masking and salt-and-pepper noise still give posterior means (the DAE
#   inpaints), but no score (S7): `scratchdae score` refuses them.
# * The exact posterior mean of a finite sample memorises, and it is the
#   minimiser of the DAE's own objective on that sample. The default DAE,
#   on 6,300 digits and for its usual length of training, falls short of it
#   and generalises; on 270 digits, or trained far longer, the same network
#   heads for it (the seen/unseen gap grows). Tutorial 06 looks at what the
#   encoder learned on the way, and uses the score to *sample*.
#
# From the command line: `scratchdae train --dataset toy:spiral --noise gaussian:0.3 --out runs/spiral`
# then `scratchdae score --model runs/spiral/model.npz --figure field.png`.

# %% [markdown]
# ## Exercises
#
# 1. Train `toy:spiral` at $s = 0.03$ (`train(dataset="toy:spiral",
#    noise="gaussian:0.03")`). How close does the field get to the exact
#    score, and what does (S6) say about why it is harder?
# 2. Train `toy:mixture8` with `masking:0.3`. What does `score_report` say,
#    and what does the DAE estimate instead (S7)?
# 3. Prove the first equality of (S5) for one point: expand
#    $\lVert r - x \rVert^2$ around $\mathbb{E}[x \mid \tilde x]$ and show the
#    cross term has mean zero given $\tilde x$.
# 4. Run the oracle of section 4 at more noise: `get_corruption("gaussian:1")`
#    and `oracle(x_tilde, X_train, s=1)`, then `s=2`. How many digits does
#    it average now, how far does the nearest one lead, and what happens to
#    its PSNR on seen and unseen digits?
# 5. Repeat the 270-digit run of section 4 with `hidden=(64,)` and with
#    `hidden=(4000,)`. Which memorises sooner? Then give it the first 1,000
#    digits instead of 300: what happens to the gap after the same number
#    of steps?
