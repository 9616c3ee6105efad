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
# # 03 · The denoising autoencoder on MNIST
#
# A DAE corrupts its input, $\tilde x \sim q(\tilde x \mid x)$, and is
# trained to give back the clean $x$ from $h = E(\tilde x)$, minimising
# $-\log p(x \mid h)$. Here: the three corruptions (C1)-(C3) on real digits,
# training on $(\tilde x, x)$ pairs, the corrupted / denoised / clean picture,
# and what the first layer learns with and without noise.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from scratchdae import Autoencoder, get_backend, get_corruption, to_host
from scratchdae.data import load_dataset
from scratchdae.evaluate import evaluate
from scratchdae.figures import denoising_figure, filters_figure
from scratchdae.representation import neighbour_correlation
from scratchdae.train import new_run_dir, prepare_images, train

FAST = os.environ.get("SCRATCHDAE_TUTORIAL_FAST") == "1"
EPOCHS = 3 if FAST else 30
MAX_TRAIN = 2000 if FAST else None
RUNS = new_run_dir("runs/tutorial03")

data = load_dataset("mnist-sample", log=lambda *a: None)
print(data)
be = get_backend()  # NumPy unless SCRATCHDAE_BACKEND says otherwise
x = be.asarray(prepare_images(data.test_images[:8]))  # 8 test digits as rows of 784 pixels in [0, 1]

# %% [markdown]
# ## Three ways to corrupt a digit
#
# * Gaussian: $\tilde x = x + \sigma\varepsilon$ (C1);
# * masking: a fraction $\nu$ of the pixels set to 0 (C2);
# * salt-and-pepper: a fraction $\nu$ set to 0 or 1, half each (C3).
#
# Each call draws fresh noise from the generator.

# %%
specs = ["gaussian:0.5", "masking:0.5", "salt-pepper:0.3"]
rng = be.rng(0)
fig, axes = plt.subplots(len(specs) + 1, 8, figsize=(8, 4.4))
rows = [("clean", x)] + [(s, get_corruption(s)(x, rng)) for s in specs]
for r, (label, imgs) in enumerate(rows):
    for c in range(8):
        axes[r, c].imshow(np.clip(to_host(imgs[c]), 0, 1).reshape(28, 28), cmap="gray", vmin=0, vmax=1)
        axes[r, c].axis("off")
    axes[r, 0].set_title(label, loc="left", fontsize=9)
plt.show()

masked = to_host(get_corruption("masking:0.5")(x, rng))
print(f"masking:0.5 zeroed {np.mean(masked == 0) - np.mean(to_host(x) == 0):.2f} of the pixels that were not 0 "
      "already, as a share of all pixels")

# %% [markdown]
# ## Training on $(\tilde x, x)$ pairs
#
# `train` runs the loop of `scratchdae/train.py`: for every mini-batch it draws
# fresh noise, runs forward and backward, and takes an Adam step. The default
# model is 784-1000-784 with ReLU units, trained with the Gaussian NLL with a
# fixed $\sigma = 0.1$ (G2).

# %%
dae = train(out=RUNS / "gaussian", noise="gaussian:0.5", epochs=EPOCHS, max_train=MAX_TRAIN, quiet=True,
            figures=False, patience=0)
for h in dae.history:
    print(f"epoch {h['epoch']:>2}: train loss {h['train_loss']:9.2f}  validation PSNR {h['val_psnr']:.2f} dB")

# %% [markdown]
# ## Digits it never saw
#
# `evaluate` corrupts the 1,000 test digits with a seeded noise, denoises them
# and scores the result (PSNR (P1) against the clean digits).

# %%
scores = evaluate(RUNS / "gaussian" / "model.npz", dataset="mnist-sample", seed=0)
print(f"noisy input: {scores['psnr_noisy']:.2f} dB   denoised: {scores['psnr_denoised']:.2f} dB")
assert scores["psnr_denoised"] > scores["psnr_noisy"] + 6

x_tilde = get_corruption("gaussian:0.5")(x, be.rng(1))
denoised = dae.loss.reconstruction(dae.model.forward(x_tilde)[0])
path = denoising_figure(RUNS / "denoising.png", x_tilde, denoised, x, (28, 28), "gaussian:0.5 on test digits")
plt.imshow(plt.imread(path))
plt.axis("off")
plt.show()

# %% [markdown]
# ## What the first layer learns, with and without noise
#
# Each hidden unit has 784 incoming weights: one column of the first $W$,
# which we can show as a 28×28 image. Train the same network without noise,
# and with masking noise (the corruption of Vincent et al. 2008), and compare.
# Without noise an overcomplete autoencoder needs no structure to copy its
# input, and its filters stay close to their random start; with noise they
# become local stroke and blob detectors.

# %%
common = dict(epochs=EPOCHS, max_train=MAX_TRAIN, quiet=True, figures=False, patience=0)
plain = train(out=RUNS / "plain", noise="none", **common)
masked = train(out=RUNS / "masking", noise="masking:0.5", **common)
models = [("without noise", plain), ("gaussian:0.5", dae), ("masking:0.5", masked)]
paths = [filters_figure(RUNS / f"filters_{i}.png", r.model.encoder.layers[0].params["W"], (28, 28), n=64, title=name)
         for i, (name, r) in enumerate(models)]
fig, axes = plt.subplots(1, 3, figsize=(15, 5))
for ax, p in zip(axes, paths):
    ax.imshow(plt.imread(p))
    ax.axis("off")
plt.show()

# %% [markdown]
# One number for "structure": a stroke detector's neighbouring pixels have
# similar weights, random weights do not. `neighbour_correlation` averages,
# over the units, the correlation between each weight and its right-hand
# neighbour (about 0 for the random start); read its ten lines in
# `scratchdae/representation.py`.

# %%

start = Autoencoder(784, 1000, seed=0).encoder.layers[0].params["W"]  # the start all three runs share
structure = {"random start": neighbour_correlation(start)}
structure.update({name: neighbour_correlation(r.model.encoder.layers[0].params["W"]) for name, r in models})
for name, value in structure.items():
    print(f"{name:<14} neighbour correlation {value:.3f}")
assert structure["masking:0.5"] > structure["without noise"] > structure["random start"]
