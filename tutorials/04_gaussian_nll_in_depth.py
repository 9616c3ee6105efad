# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
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

from scratchdae import MSE, GaussianNLL, get_corruption, to_host
from scratchdae.data import load_dataset
from scratchdae.figures import sigma_map_figure
from scratchdae.train import new_run_dir, prepare_images, train

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
# constant. Check it on real digits against a blurred guess.

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
# ## Learning one $\sigma$ (G4)-(G5)
#
# Make $s = \log\sigma^2$ a parameter. Setting $\partial L / \partial s = 0$
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
# by about the learning rate per step, so $s = \log\sigma^2$ travels about
# 0.001 per step however large its gradient. Start it near a sensible value
# (`gaussian-learned:0.1`) or give it time.
#
# ## A $\sigma$ for every pixel (G6)-(G7)
#
# A second decoder head predicts $s_d = \log\sigma_d^2$ for each pixel
# (`gaussian-hetero`; the model gets the head automatically). The catch is in
# (G7): the mean's gradient is $(\mu_d - x_d)/\sigma_d^2$. Pixels the model
# finds hard get a large $\sigma_d$, hence almost no gradient, hence stay hard.
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
