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
# # 01 · Arrays, backends and one dense layer
#
# A denoising autoencoder is a stack of dense layers. Before we stack any, we
# build one by hand: its forward pass, its backward pass, and a check that the
# backward pass is right. Equations (D1)-(D4) and (A3)-(A4) of
# `docs/derivations.md`; the check is (GC1)-(GC2).
#
# Everything here runs on NumPy (CPU) or CuPy (GPU): the package hands us an
# array namespace `xp` and we only call `xp.` functions.

# %%
import os

import numpy as np

import scratchdae
from scratchdae import Dense, available_backends, get_backend
from scratchdae.gradient_check import gradcheck, numerical_gradient, relative_error

FAST = os.environ.get("SCRATCHDAE_TUTORIAL_FAST") == "1"  # the test suite runs every tutorial in this mode

print("backends usable here:", available_backends())
be = get_backend("numpy")  # try "cupy" on a GPU machine, or "auto"
xp = be.xp
print(be, "->", xp.__name__)

# %% [markdown]
# ## Arrays and dtypes
#
# We train in float32 (half the memory and about twice the speed of float64)
# and check gradients in float64 (finite differences need the precision).
# Random numbers come from a seeded generator of the backend and are drawn
# directly in the dtype we ask for: nothing is upcast behind our back.

# %%
rng = be.rng(0)
x = rng.standard_normal((4, 3), dtype=xp.float32)  # N=4 examples, I=3 inputs
print(x.dtype, x.shape)
print(x)

# %% [markdown]
# ## The forward pass (D1)
#
# A dense layer with weight $W$ (I×O), bias $b$ and activation $f$ computes
# $z = xW + b$, $a = f(z)$. Let us do it by hand for a sigmoid layer and
# compare with the package's `Dense`.

# %%
layer = Dense(3, 2, "sigmoid", rng=be.rng(1), backend=be)
print(layer)
W, b = layer.params["W"], layer.params["b"]

z = x @ W + b                      # (D1)  N,O
a_by_hand = 1 / (1 + xp.exp(-z))   # sigmoid; the package uses the stable form (A3)
a, cache = layer.forward(x)
print("largest difference from Dense.forward:", float(xp.abs(a - a_by_hand).max()))
assert float(xp.abs(a - a_by_hand).max()) < 1e-6

# %% [markdown]
# ## The backward pass (A4), (D2)-(D4)
#
# Suppose the loss is $L = \sum a \odot R$ for a fixed random $R$: then
# $\bar a = R$. The chain rule through the sigmoid gives
# $\bar z = \bar a \odot a(1-a)$ (A4), and through $z = xW + b$:
# $\bar W = x^\top \bar z$ (D2), $\bar b = \sum_n \bar z$ (D3), $\bar x = \bar z W^\top$ (D4).

# %%
R = be.rng(2).standard_normal(a.shape, dtype=xp.float32)
dz = R * a * (1 - a)   # (A4)
dW = x.T @ dz          # (D2)
db = dz.sum(axis=0)    # (D3)
dx = dz @ W.T          # (D4)

dx_pkg, grads = layer.backward(R, cache)
for name, ours, theirs in [("dx", dx, dx_pkg), ("dW", dW, grads["W"]), ("db", db, grads["b"])]:
    print(f"{name}: largest difference from Dense.backward = {float(xp.abs(ours - theirs).max()):.1e}")
    assert float(xp.abs(ours - theirs).max()) < 1e-6

# %% [markdown]
# ## Checking the backward pass with finite differences (GC1)-(GC2)
#
# Nudge one entry of $W$ by $\pm\epsilon$ and watch the loss:
# $(L(W + \epsilon e_i) - L(W - \epsilon e_i)) / 2\epsilon$ approximates
# $\partial L / \partial W_i$. In float32 that difference is mostly rounding,
# so we rebuild the same layer in float64: the same weights, the same
# input, the same $R$, only more digits.

# %%
layer64 = Dense(3, 2, "sigmoid", backend=be, dtype="float64")
layer64.params["W"][...] = W.astype(xp.float64)  # the float32 layer's weights, exactly (float32 -> float64 is exact)
layer64.params["b"][...] = b.astype(xp.float64)
x64, R64 = x.astype(xp.float64), R.astype(xp.float64)


def loss():
    return (layer64.forward(x64)[0] * R64).sum()


out, cache64 = layer64.forward(x64)
dx64, grads64 = layer64.backward(R64, cache64)
print("float32 dW vs float64 dW of the same layer: largest difference",
      f"{float(xp.abs(grads['W'] - grads64['W']).max()):.1e}")  # float32 rounding, about 1e-7
assert float(xp.abs(grads["W"] - grads64["W"]).max()) < 1e-5
numeric_dW = numerical_gradient(loss, layer64.params["W"])
print("analytic dW:\n", grads64["W"])
print("numerical dW:\n", numeric_dW)
err = relative_error(grads64["W"], numeric_dW)
print(f"relative error (GC2): {err:.1e}")
assert err < 1e-6

# %% [markdown]
# `gradcheck` does this for every array at once. Every backward pass of the
# package is checked like this in the tests, and by `scratchdae gradcheck`.

# %%
errors = gradcheck(loss, {"x": x64, **layer64.params}, {"x": dx64, **grads64})
for name, e in errors.items():
    print(f"{name}: {e:.1e}")
assert max(errors.values()) < 1e-6

# %% [markdown]
# ## What a bug looks like
#
# Forget the sigmoid's derivative (use $\bar z = \bar a$) and the check fails
# loudly: the error is of order 1, not 1e-10.

# %%
wrong_dW = x64.T @ R64  # the chain rule through f is missing
err = relative_error(wrong_dW, numeric_dW)
print(f"relative error of the buggy gradient: {err:.2f}")
assert err > 0.1

# %% [markdown]
# ## Switching the backend
#
# The same lines run on a GPU: pass `backend="cupy"` (or set the environment
# variable `SCRATCHDAE_BACKEND=cupy`, or `--backend cupy` on the command
# line). `auto` takes CuPy when a GPU is usable and NumPy otherwise. Arrays
# move between host and device in one place: `Backend.asarray` and
# `scratchdae.to_host`.

# %%
auto = get_backend("auto")
layer_auto = Dense(3, 2, "sigmoid", rng=auto.rng(1), backend=auto)
a_auto = layer_auto.forward(auto.asarray(np.asarray(scratchdae.to_host(x))))[0]
print(f"ran on {auto.name}; output back on the host: {type(scratchdae.to_host(a_auto)).__name__}")

# %% [markdown]
# ## Exercises
#
# 1. **Code** (`tutorials/exercises`, exercise 1): write the backward pass
#    of tanh, `tanh_backward`, and run `pytest tutorials/exercises -k tanh`.
#    The test shows the gradient check passing on your formula and catching
#    the slip $1 - a$ for $1 - a^2$ (A6).
# 2. Rerun the gradient check of this tutorial in float32. How large is the
#    error now, and which of the two error terms of section 7 of the
#    derivations explains it?
# 3. Derive (D2) for a single entry $W_{ik}$ by writing $z_{nk}$ as a sum,
#    and check that $\bar W = x^\top \bar z$ is what you get.
