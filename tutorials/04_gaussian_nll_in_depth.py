# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · The Gaussian NLL in depth
#
# The DAE minimises $-\log p(x \mid h = E(\tilde x))$. With a Gaussian
# decoder that is the Gaussian negative log-likelihood. Here we go from the
# density (G1) to squared error (G2); then learn $\sigma$ (G4)-(G5); then
# predict a $\sigma$ for every pixel (G6)-(G7), see why that starves the mean
# of gradient, and fix it with beta-NLL (G8).

# %%
import math
import os

import matplotlib.pyplot as plt
import numpy as np

from scratchdae import MSE, BernoulliNLL, GaussianNLL, get_corruption, prepare_images, to_host
from scratchdae.data import load_dataset
from scratchdae.figures import sigma_map_figure
from scratchdae import train
from scratchdae.run.folder import new_run_dir

FAST = os.environ.get("SCRATCHDAE_TUTORIAL_FAST") == "1"
EPOCHS = 3 if FAST else 15
MAX_TRAIN = 2000 if FAST else None
RUNS = new_run_dir("runs/tutorial04")

# %% [markdown]
# ## From $-\log \mathcal{N}$ to squared error (G1)-(G2)
#
# For one pixel, $-\log \mathcal{N}(x; \mu, \sigma^2) = \tfrac12\log 2\pi + \log\sigma + (x-\mu)^2 / 2\sigma^2$.
# Summed over the $D$ pixels of an image, with $\sigma$ fixed, only the
# squared error depends on $\mu$: the NLL is MSE times $D / 2\sigma^2$, plus a
# constant. Check it on real digits against a guess of our own: the clean
# digits plus Gaussian noise of 0.2, clipped to [0, 1].

# %%
data = load_dataset("mnist-sample", log=lambda *a: None)
x = prepare_images(data.test_images[:100])
mu = np.clip(x + np.random.default_rng(0).normal(0, 0.2, x.shape).astype(np.float32), 0, 1)
D = x.shape[1]
mse = float(MSE().forward({"mean": mu}, x)[0])
for sigma in (0.1, 0.5, 1.0):
    nll = float(GaussianNLL(sigma).forward({"mean": mu}, x)[0])
    by_hand = mse * D / (2 * sigma**2) + D * (math.log(sigma) + 0.5 * math.log(2 * math.pi))  # (G2)
    print(f"sigma {sigma}: NLL {nll:10.2f} nats/image, MSE * D / 2 sigma^2 + constant = {by_hand:10.2f}")
    assert abs(nll - by_hand) < 1e-3 * abs(nll)

# %% [markdown]
# So for a fixed $\sigma$ the minimiser over $\mu$ is the same for every
# $\sigma$: the NLL curves of one pixel ($x = 0.7$) differ only in scale and
# offset.

# %%
m = np.linspace(0, 1, 201)
fig, ax = plt.subplots(figsize=(5, 3))
for sigma in (0.2, 0.3, 0.5):
    ax.plot(m, 0.5 * math.log(2 * math.pi) + math.log(sigma) + (0.7 - m) ** 2 / (2 * sigma**2), label=f"sigma {sigma}")
ax.axvline(0.7, color="k", lw=0.5)
ax.set_xlabel("mu")
ax.set_ylabel("-log N(0.7; mu, sigma^2)")
ax.legend()
plt.show()

# %% [markdown]
# ## The loss's sign and units
#
# Training with the default loss (`gaussian:0.1`) prints negative losses.
# Nothing is wrong: (G2) is a *density*, and a density can exceed 1. Its
# constant part, $D(\log\sigma + \log\sqrt{2\pi})$, does not depend on the
# model at all, and at $\sigma = 0.1$ it is large and negative:

# %%
loss01 = GaussianNLL(0.1)
const = loss01.constant(D)  # D (log sigma + log sqrt(2 pi))  (G2)
mse_zero = -2 * 0.1**2 * const / D  # the per-pixel MSE at which fit term and constant cancel
print(f"constant part at sigma = 0.1: {const:.1f} nats per image")
print(f"the NLL is negative once MSE < {mse_zero:.4f}, i.e. PSNR > {10 * math.log10(1 / mse_zero):.2f} dB")
assert abs(const - (-1084.8)) < 0.05 and abs(mse_zero - 0.0277) < 1e-4

run = train(out=RUNS / "sign", noise="gaussian:0.5", epochs=3, max_train=MAX_TRAIN, quiet=True, figures=False,
            patience=0)
for h in run.history:
    print(f"epoch {h['epoch']}: validation NLL {h['val_loss']:8.1f} = fit {h['val_fit']:7.1f} "
          f"{h['loss_constant']:+.1f} constant; MSE {h['val_mse']:.4f}; {h['val_bits_per_dim']:+.3f} bits per pixel")
    assert (h["val_loss"] < 0) == (h["val_mse"] < mse_zero)  # the sign says which side of 0.0277 the MSE is

# %% [markdown]
# The history logs the two parts separately (`val_fit`, `loss_constant`).
# The default `scratchdae train` (all 6,300 training digits) reaches a
# validation MSE of 0.030 after epoch 1 (NLL +90) and 0.023 after epoch 2
# (NLL -178): it crosses $0.0277$ (15.58 dB) during epoch 2, and its train
# loss, an average over each epoch, flips from +924 to -52.
#
# **Bits per dimension** divide the NLL by $D \log 2$: bits per pixel, on
# the $[0, 1]$ scale the model sees. A density on $[0, 1]$ can have negative
# bits; on the 0-255 scale used in papers, add $\log_2 256 = 8$. NLLs
# compare only within one loss and one pixel scale: rescaling pixels by $c$
# shifts a density's NLL by $D \log c$.
#
# **The Bernoulli loss has a floor.** (B1) treats a pixel as the probability
# of being on. For a grey pixel even the perfect prediction $p = x$ pays the
# binary entropy $H(x) = -x\log x - (1-x)\log(1-x)$, so the best possible
# value is $\sum_d H(x_d)$, not 0:

# %%
xt = prepare_images(data.test_images).astype(np.float64)
entropy = -(xt * np.log(np.where(xt > 0, xt, 1)) + (1 - xt) * np.log(np.where(xt < 1, 1 - xt, 1)))  # H(x_d)
floor = float(entropy.sum(1).mean())
perfect = np.log(np.clip(xt, 1e-12, 1 - 1e-12) / np.clip(1 - xt, 1e-12, 1))  # logits of p = x
at_floor = float(BernoulliNLL().forward({"mean": perfect}, xt)[0])
print(f"Bernoulli floor on the 1,000 test digits: {floor:.1f} nats per image; the loss at p = x: {at_floor:.1f}")
assert abs(floor - 45.2) < 0.1 and abs(at_floor - floor) < 0.01

# %% [markdown]
# ## Learning one $\sigma$ (G4)-(G5)
#
# Make $\omega = \log\sigma^2$ a parameter. Setting $\partial L / \partial \omega = 0$
# in (G5) gives $\sigma^2 = \lVert x - \mu\rVert^2 / D$: the learned variance
# chases the mean squared residual. We start it at $\sigma = 0.5$ and record
# both at every step.

# %%
trace = []


def record(epoch, step, run):
    residual = run.loss.reconstruction(run.output) - run.x
    trace.append((run.loss.sigma, float(np.sqrt((to_host(residual) ** 2).mean()))))


learned = train(out=RUNS / "learned", loss="gaussian-learned:0.5", epochs=EPOCHS, max_train=MAX_TRAIN, quiet=True,
                figures=False, patience=0, on_step=record)
sig, rms = np.array(trace).T
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(sig, label="learned sigma")
ax.plot(rms, label="RMS residual of the batch", alpha=0.7)
ax.set_xlabel("step")
ax.legend()
plt.show()
print(f"start: sigma {sig[0]:.3f}, RMS residual {rms[0]:.3f};  end: sigma {sig[-1]:.3f}, RMS residual {rms[-1]:.3f}")
assert abs(sig[-1] - rms[-1]) < abs(sig[0] - rms[-1])

# %% [markdown]
# $\sigma$ moves towards the residual, but slowly: Adam moves every parameter
# by about the learning rate per step, so $\omega = \log\sigma^2$ travels about
# 0.001 per step however large its gradient. Start it near a sensible value
# (`gaussian-learned:0.1`) or give it time.
#
# ## A $\sigma$ for every pixel (G6)-(G7)
#
# A second decoder head predicts $\omega_d = \log\sigma_d^2$ for each pixel
# (`gaussian-hetero`; the model gets the head automatically). The catch is in
# (G7): the mean's gradient is $(\mu_d - x_d)/\sigma_d^2$. Pixels the model
# finds hard get a large $\sigma_d$, so their means learn $\sigma_d^2$ times
# more slowly per unit of error: hard pixels learn slowly, not never.
# beta-NLL (G8) multiplies each pixel's gradients by $\sigma_d^{2\beta}$;
# $\beta = 0.5$ is the paper's recommendation.

# %%
hetero = {beta: train(out=RUNS / f"beta{beta}", loss=f"gaussian-hetero:{beta}", epochs=EPOCHS, max_train=MAX_TRAIN,
                      quiet=True, figures=False, patience=0) for beta in (0.0, 0.5)}
for beta, r in hetero.items():
    h = r.history[-1]
    print(f"beta {beta}: validation NLL {h['val_loss']:9.2f} nats/image, PSNR of the mean {h['val_psnr']:.2f} dB")
print(f"learned single sigma, for comparison: PSNR {learned.history[-1]['val_psnr']:.2f} dB")
assert hetero[0.5].history[-1]["val_psnr"] > hetero[0.0].history[-1]["val_psnr"]

# %% [markdown]
# Measure the starvation. For each trained model, take the gradient the
# mean receives per unit of error, $|\partial L / \partial \mu_d| / |\mu_d - x_d|$,
# which is $\sigma_d^{2\beta - 2}$ by (G7)-(G8), and compare the hardest pixels
# (the 10% with the largest predicted $\sigma_d$) with the easiest half.

# %%
x_check = prepare_images(data.test_images[:200])
starvation = {}
for beta, r in hetero.items():
    m, lo = r.model, r.loss
    xb = m.backend.asarray(x_check)
    out_b, _ = m.forward(get_corruption("gaussian:0.5")(xb, m.backend.rng(3)))
    d_out, _ = lo.backward(lo.forward(out_b, xb)[1])
    err = to_host(abs(out_b["mean"] - xb)).ravel()
    per_error = to_host(abs(d_out["mean"])).ravel() / np.maximum(err, 1e-12)  # sigma_d^(2 beta - 2) / N
    sig_b = to_host(lo.sigma_map(out_b)).ravel()
    hard, easy = sig_b >= np.quantile(sig_b, 0.9), sig_b <= np.quantile(sig_b, 0.5)
    ratio = np.median(per_error[hard]) / np.median(per_error[easy])
    print(f"beta {beta}: gradient per unit error on the hardest pixels / on the easiest half = {ratio:.4f}")
    starvation[beta] = ratio
assert starvation[0.5] > starvation[0.0]  # beta-NLL gives hard pixels more of their gradient back

# %% [markdown]
# ## What the $\sigma$ map shows
#
# Where is the model unsure? Not on the empty background, where any noise is
# easy to remove, but along the strokes: whether a noisy pixel at the edge of
# a stroke was ink or paper is exactly what the noise hides.

# %%
model, loss = hetero[0.5].model, hetero[0.5].loss
xs = model.backend.asarray(prepare_images(data.test_images[:8]))
x_tilde = get_corruption("gaussian:0.5")(xs, model.backend.rng(0))
out = model.forward(x_tilde)[0]
sigma = to_host(loss.sigma_map(out))
path = sigma_map_figure(RUNS / "sigma_map.png", xs, loss.reconstruction(out), sigma, (28, 28))
plt.figure(figsize=(10, 4))
plt.imshow(plt.imread(path))
plt.axis("off")
plt.show()

clean = to_host(xs)
stroke, background = sigma[clean > 0.5].mean(), sigma[clean == 0].mean()
print(f"mean predicted sigma: on strokes {stroke:.3f}, on background {background:.3f}")
assert stroke > background

# %% [markdown]
# ## Exercises
#
# 1. **Code** (`tutorials/exercises`, exercise 3): derive (G7) from (G6) on
#    paper, write `beta_nll_gradients`, and check it with
#    `pytest tutorials/exercises -k beta`. Show on paper that $\beta = 1$
#    gives the mean the gradient $\mu_d - x_d$ of squared error.
# 2. At what PSNR does the Gaussian NLL with $\sigma = 0.05$ change sign?
#    Compute it as this tutorial did for $\sigma = 0.1$.
# 3. Train with `--loss bernoulli` and evaluate: how far above its floor of
#    45.2 nats per image does it end?
