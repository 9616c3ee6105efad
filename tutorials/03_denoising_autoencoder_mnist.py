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

from scratchdae import Adam, Autoencoder, GaussianNLL, get_backend, get_corruption, prepare_images, to_host
from scratchdae.data import load_dataset
from scratchdae.evaluate import evaluate
from scratchdae.figures import denoising_figure, filters_figure
from scratchdae.representation import neighbour_correlation
from scratchdae import train
from scratchdae.run.folder import new_run_dir

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
# * masking: each pixel set to 0 with probability $\nu$, independently (C2);
# * salt-and-pepper: each pixel set to 1 or to 0 with probability $\nu/2$ each (C3).
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
inked = to_host(x) != 0
print(f"masking:0.5 zeroed {np.mean(masked[inked] == 0):.3f} of the pixels that were not 0 already "
      "(each is dropped with probability 0.5, so the share is 0.5 only on average)")

# %% [markdown]
# ## Write the training loop yourself
#
# Before handing the work to `train()`, write it. A DAE's training loop is a
# dozen lines: draw a batch, corrupt it with fresh noise (C1), run the model
# forward, evaluate the loss (G2) and its gradient (G3), backpropagate
# through the model (D2)-(D4), and take an optimizer step (O4)-(O6).

# %%
n_loop = 1000 if FAST else 6000
X = be.asarray(prepare_images(data.train_images[:n_loop]))  # clean training rows
X_check = be.asarray(prepare_images(data.test_images[:500]))  # unseen digits, to watch it learn
model = Autoencoder(784, 1000, seed=0)  # 784-1000-784, ReLU, sigmoid output
loss = GaussianNLL(0.1)
corrupt = get_corruption("gaussian:0.5")
opt = Adam(lr=1e-3)
params = model.parameters()
noise_rng, order_rng = be.rng(0), np.random.default_rng(0)


def check_psnr():
    x_tilde = corrupt(X_check, be.rng(99))  # the same noise every time, so the numbers compare
    mse = float(((loss.reconstruction(model.forward(x_tilde)[0]) - X_check) ** 2).mean())
    return 10 * np.log10(1 / mse)  # (P1)


psnr_loop = [check_psnr()]
for epoch in range(2 if FAST else 5):
    for idx in np.array_split(order_rng.permutation(len(X)), len(X) // 64):  # batches of about 64
        x_clean = X[be.asarray(idx)]
        x_tilde = corrupt(x_clean, noise_rng)  # fresh noise for every batch  (C1)
        out, cache = model.forward(x_tilde)  # h = E(x~), then D(h)
        value, loss_cache = loss.forward(out, x_clean)  # mean NLL of the clean batch  (G2), (L1)
        d_out, _ = loss.backward(loss_cache)  # dL/dmu  (G3)
        _, grads = model.backward(d_out, cache, need_input_grad=False)  # (D2)-(D4), layer by layer
        opt.step(params, grads)  # Adam, in place  (O4)-(O6)
    psnr_loop.append(check_psnr())
    print(f"epoch {epoch + 1}: last batch loss {float(value):9.2f}   PSNR on unseen digits {psnr_loop[-1]:.2f} dB")
assert psnr_loop[-1] > psnr_loop[0] + 5

# %% [markdown]
# ## Backpropagation by hand, line by line
#
# `model.backward` is the chain rule applied layer by layer. Write it out
# for this 784-1000-784 network on one batch, one equation a line, and
# compare every gradient with the package's. Forward: $z_1 = \tilde x W_1 + b_1$,
# $h = \max(z_1, 0)$, $z_2 = h W_2 + b_2$, $\mu = \sigma(z_2)$ (D1), (A7), (A3).

# %%
def cmp(name, ours, theirs):
    ours, theirs = to_host(ours), to_host(theirs)
    exact = bool(np.array_equal(ours, theirs))
    close = bool(np.allclose(ours, theirs, rtol=1e-5, atol=1e-6))
    print(f"{name:<14} exact {str(exact):<5}  close {str(close):<5}  max difference {np.abs(ours - theirs).max():.1e}")
    return close


x_clean = X[:64]
x_tilde = corrupt(x_clean, be.rng(1))
N, sigma = len(x_clean), 0.1
W1, b1 = params["encoder.0.W"], params["encoder.0.b"]
W2, b2 = params["mean_head.W"], params["mean_head.b"]

z1 = x_tilde @ W1 + b1  # (D1) N,1000
xp = be.xp  # numpy or cupy
h = xp.maximum(z1, 0)  # (A7) N,1000  the code
z2 = h @ W2 + b2  # (D1) N,784
mu = 1 / (1 + xp.exp(-z2))  # (A3) N,784  (fine here: float32 exp(-z2) overflows only for z2 < -88)

d_mu = (mu - x_clean) / (sigma**2 * N)  # (G3) with the 1/N of (L1)
d_z2 = d_mu * mu * (1 - mu)  # (A4)
d_W2 = h.T @ d_z2  # (D2) 1000,784
d_b2 = d_z2.sum(axis=0)  # (D3)
d_h = d_z2 @ W2.T  # (D4) N,1000
d_z1 = d_h * (z1 > 0)  # (A8)
d_W1 = x_tilde.T @ d_z1  # (D2) 784,1000
d_b1 = d_z1.sum(axis=0)  # (D3)

out, cache = model.forward(x_tilde)
_, grads = model.backward(loss.backward(loss.forward(out, x_clean)[1])[0], cache)
ok = [cmp("mu", mu, out["mean"]),
      cmp("mean_head.W", d_W2, grads["mean_head.W"]), cmp("mean_head.b", d_b2, grads["mean_head.b"]),
      cmp("encoder.0.W", d_W1, grads["encoder.0.W"]), cmp("encoder.0.b", d_b1, grads["encoder.0.b"])]
assert all(ok)

# %% [markdown]
# The gradients agree: what `model.backward` does is exactly these eight
# lines, layer by layer. (They may differ in the last bit where the package
# computes the sigmoid in its stable form (A3) or sums in another order.)
# From here on `train()` runs this loop for us, and adds what a real run
# needs: validation, checkpoints, early stopping, resume.

# %% [markdown]
# ## Training on $(\tilde x, x)$ pairs
#
# `train` runs the loop of `scratchdae/loop.py`: for every mini-batch it draws
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
# input: its filters stay noisy, with only a little local structure; with
# noise they become local stroke and blob detectors. (In full mode the
# neighbour correlation below is about 0.23 without noise, 0.45 with
# Gaussian noise and 0.56 with masking; fast mode trains too briefly to
# show more than the order.)

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

# %% [markdown]
# ## Exercises
#
# 1. **Code** (`tutorials/exercises`, exercise 4): write one step of AdamW,
#    decoupled weight decay, `adamw_step`, and check it with
#    `pytest tutorials/exercises -k adamw`. Then swap it into the loop you
#    wrote above (keep `opt.step` for the rest) and compare the PSNR with
#    coupled L2 (`Adam(weight_decay=...)`, (O3)) at the same decay.
# 2. In the hand-written backward pass, add the input gradient
#    $\bar{\tilde x} = \bar z_1 W_1^\top$ (D4) and compare it with
#    `model.backward(..., need_input_grad=True)`.
# 3. Train with `gaussian:0.5:clip` instead of `gaussian:0.5`. Which is
#    easier to denoise, and why (section 9.5 of the derivations)?
