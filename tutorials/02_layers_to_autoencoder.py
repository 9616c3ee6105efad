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
# # 02 · From layers to an autoencoder
#
# An autoencoder is an encoder $h = E(x)$ and a decoder $\hat x = D(h)$,
# trained to give back its input. We build one from layer sizes, train it, and
# see why an **overcomplete** autoencoder (more hidden units than inputs)
# trained *without noise* can learn the useless identity map, while an
# undercomplete one must compress. Then tied weights, as in the classic dA.
#
# Backprop through the stack is (D4) feeding the layer below; the loss is the
# Gaussian NLL (G2), squared error up to scale.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from scratchdae import Autoencoder, prepare_images, to_host
from scratchdae.data import load_dataset
from scratchdae import train
from scratchdae.run.folder import new_run_dir

FAST = os.environ.get("SCRATCHDAE_TUTORIAL_FAST") == "1"
EPOCHS = 3 if FAST else 15
MAX_TRAIN = 1500 if FAST else None  # all 7,000 bundled digits in class
RUNS = new_run_dir("runs/tutorial02")  # a fresh folder each time the notebook runs

# %% [markdown]
# ## Building from layer sizes
#
# `Autoencoder(784, hidden)` mirrors the encoder into the decoder. Its `repr`
# says what it is.

# %%
under = Autoencoder(784, (256, 32))
over = Autoencoder(784, 1000)
print(under, "\n")
print(over)

# %% [markdown]
# ## Undercomplete vs overcomplete, without noise
#
# We train three *plain* autoencoders (`noise="none"`) on digits:
#
# * **undercomplete**: 784-32-784 with ReLU: the 32-number code must summarise a digit;
# * **overcomplete, linear**: 784-1000-784 with no nonlinearity: it *can*
#   represent the identity, $W_{\mathrm{enc}} W_{\mathrm{dec}} = I$;
# * **overcomplete, ReLU**: 784-1000-784.
#
# All three get a linear output layer, so they differ only in their hidden
# layers (a sigmoid output would squash some noise by itself and blur the
# comparison below).
#
# Have they learned anything about *digits*, or just to copy? Add a little
# noise to test digits and measure how much of it comes out the other end:
# the **noise gain** $\lVert D(E(x + n)) - D(E(x)) \rVert^2 / \lVert n \rVert^2$.
# The identity passes all of it (gain 1); a model that knows what digits look
# like removes most of it. We measure it every 20 steps while the linear
# model trains.

# %%
data = load_dataset("mnist-sample", log=lambda *a: None)
digits = prepare_images(data.test_images[:500])
noise = np.random.default_rng(0).normal(0, 0.1, digits.shape).astype(np.float32)


def reconstruct(model, x):
    return to_host(model.reconstruct(model.backend.asarray(x)))


def noise_gain(model):
    passed = reconstruct(model, digits + noise) - reconstruct(model, digits)
    return float((passed**2).sum() / (noise**2).sum())


gain_curve = []  # (training step, noise gain) of the linear model, every 20 steps
steps_done = [0]


def watch_gain(epoch, step, run):  # train() calls this after every step
    steps_done[0] += 1
    if steps_done[0] % 20 == 0:
        gain_curve.append((steps_done[0], noise_gain(run.model)))


common = dict(noise="none", epochs=EPOCHS, max_train=MAX_TRAIN, quiet=True, figures=False, patience=0,
              output_activation="identity")
runs = {
    "undercomplete 32": train(out=RUNS / "under", hidden=32, **common),
    "overcomplete linear": train(out=RUNS / "linear", hidden=1000, activation="identity", on_step=watch_gain,
                                 **common),
    "overcomplete relu": train(out=RUNS / "over", hidden=1000, **common),
}
gains = {name: noise_gain(r.model) for name, r in runs.items()}
for name, r in runs.items():
    print(f"{name:<22} validation PSNR {r.history[-1]['val_psnr']:.1f} dB   noise gain {gains[name]:.2f}")
assert gains["overcomplete linear"] > gains["undercomplete 32"]

fig, ax = plt.subplots(figsize=(5, 3))
ax.plot([t for t, _ in gain_curve], [g for _, g in gain_curve], "o-")
ax.set_xlabel("training step")
ax.set_ylabel("noise gain")
ax.set_title("overcomplete linear autoencoder, no noise")
plt.show()
low = min(range(len(gain_curve)), key=lambda i: gain_curve[i][1])
print(f"noise gain after {gain_curve[0][0]} steps: {gain_curve[0][1]:.2f}; lowest after {gain_curve[low][0]}: "
      f"{gain_curve[low][1]:.2f}; after {gain_curve[-1][0]}: {gain_curve[-1][1]:.2f}")
if not FAST:  # fast mode stops during the first fall
    assert gain_curve[-1][1] > gain_curve[low][1] + 0.05  # then it climbs back towards 1, the identity's gain

# %% [markdown]
# The random start passes noise in every direction (gain near 1). The first
# steps fit the digits' main directions and the gain falls; then, with
# nothing to stop it, the network keeps moving towards the identity and
# the gain climbs back (in full mode from about 0.72 after 300 steps to
# about 0.88 after 15 epochs).

# %% [markdown]
# The linear overcomplete model passes most of the noise: it is on its way to
# the identity. We can look at it directly: in the product of its encoder and
# decoder weights the diagonal stands out, and it grows towards 1 the longer we
# train (on the pixels that digits use; the border pixels are always 0 in
# MNIST, so nothing is learned there).

# %%
lin = runs["overcomplete linear"].model
P = to_host(lin.encoder.layers[0].params["W"] @ lin.mean_head.params["W"])  # 784x1000 @ 1000x784
centre = np.zeros((28, 28), bool)
centre[8:20, 8:20] = True
c = centre.ravel()
diagonal = np.diag(P)[c].mean()
off_diagonal = np.abs(P[np.ix_(c, c)] - np.diag(np.diag(P)[c])).mean()
print(f"central pixels: mean diagonal of W_enc W_dec {diagonal:.2f}, mean |off-diagonal| {off_diagonal:.4f}")
assert diagonal > 3 * off_diagonal
fig, ax = plt.subplots(figsize=(4, 4))
ax.imshow(P[np.ix_(c, c)], cmap="RdBu_r", vmin=-1, vmax=1)
ax.set_title("W_enc W_dec on the central 12x12 pixels")
plt.show()

# %% [markdown]
# Nothing stopped the network from copying its input. The undercomplete model
# cannot copy (32 numbers cannot hold 784), so it must learn what digits have
# in common. Denoising is the other way out, and it keeps the large code: if
# the input is *corrupted* and the target clean, copying is no longer a
# solution (tutorial 03).

# %%
dae = train(out=RUNS / "dae", hidden=1000, activation="identity",
            **{**common, "noise": "gaussian:0.5"})
print(f"overcomplete linear DAE: noise gain {noise_gain(dae.model):.2f} "
      f"(the same network trained without noise: {gains['overcomplete linear']:.2f})")
assert noise_gain(dae.model) < 0.5 * gains["overcomplete linear"]

# %% [markdown]
# ## Tied weights
#
# In the classic denoising autoencoder (Vincent et al. 2008) the decoder's
# weight is the encoder's transposed: $W_{\mathrm{dec}} = W_{\mathrm{enc}}^\top$.
# That halves the weights, and the gradient of the shared matrix is the sum of
# its two uses (D7).

# %%
tied = Autoencoder(784, 1000, tied=True)
untied = Autoencoder(784, 1000)
print(tied)
print(f"parameters: tied {tied.n_parameters():,} vs untied {untied.n_parameters():,}")
print("decoder weight is the encoder weight:", tied.mean_head.params["W"] is tied.encoder.layers[0].params["W"])
assert tied.n_parameters() < untied.n_parameters()

# %% [markdown]
# ## Exercises
#
# 1. **Code** (`tutorials/exercises`, exercise 2): write the backward pass of
#    a tied decoder layer, `tied_dense_backward`, and check it with
#    `pytest tutorials/exercises -k tied`. Why is the gradient of the shared
#    matrix the *transpose* of (D2) for the layer's weight?
# 2. Train the overcomplete linear autoencoder of this tutorial with half
#    as many hidden units as pixels. Does it still pass the noise through?
# 3. Tied weights halve the parameters. Do they change the noise gain? Train
#    both and compare.
