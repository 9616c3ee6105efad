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
# # 08 · The same DAE on a GPU
#
# Every line of the package calls `xp.` functions, where `xp` is NumPy or
# CuPy (tutorial 01). On a machine with an NVIDIA GPU and CuPy, one switch,
# `backend="cupy"`, runs the very same layers (D1)-(D4), loss (G2) and Adam
# (O4)-(O6) on the GPU. This tutorial is about what that switch changes:
#
# * **where arrays live**: in host memory (NumPy) or on the device (CuPy),
#   and when the package copies them from one to the other;
# * **when Python waits**: the GPU runs behind Python, and a few lines make
#   Python wait for it (the sync points);
# * **how fast**: the same training on both backends, and how batch size
#   changes the picture.
#
# It runs on whichever backends this machine has: on a CPU-only machine
# every cell runs on NumPy, and the last section says what a GPU has (or,
# so far, has not) measured, as `docs/gpu.md` records it.

# %%
import importlib
import os
import sys
import time

import matplotlib.pyplot as plt
import numpy as np

from scratchdae import Adam, Autoencoder, GaussianNLL, available_backends, get_backend, get_corruption
from scratchdae import checkpoint, prepare_images, to_host
from scratchdae.backend import Backend
from scratchdae.data import load_dataset
from scratchdae import train
from scratchdae.loop import train_step
from scratchdae.run.folder import new_run_dir

FAST = os.environ.get("SCRATCHDAE_TUTORIAL_FAST") == "1"  # the test suite runs every tutorial in this mode
EPOCHS = 2 if FAST else 10
MAX_TRAIN = 1000 if FAST else None
RUNS = new_run_dir("runs/tutorial08")

BACKENDS = available_backends()
GPU = "cupy" in BACKENDS
print("backends usable here:", BACKENDS)
if not GPU:
    print("No usable GPU here: every cell runs on NumPy. On a GPU machine: pip install -e '.[cuda12]'.")
data = load_dataset("mnist-sample", log=lambda *a: None)

# %% [markdown]
# ## Where an array lives
#
# A NumPy array is in host memory, where the CPU computes. A CuPy array is
# in the GPU's own memory, and every operation on it runs on the GPU. The
# package's `Backend` is the one place where arrays cross:
#
# * `be.asarray(a)` copies host data to the device (on NumPy it is the
#   array itself);
# * `to_host(a)` copies a device array back to a NumPy array (on NumPy it
#   is the array itself).
#
# An operation runs where its operands live, and CuPy refuses to mix the two:
# a NumPy array cannot be multiplied by a CuPy array without a copy you ask
# for. That keeps every crossing visible in the code.

# %%
x_host = prepare_images(data.train_images[:4])  # NumPy, float32, in host memory
for name in BACKENDS:
    be = get_backend(name)
    x = be.asarray(x_host)  # host -> device on CuPy
    gram = x @ x.T  # (D1)'s product, computed where x lives
    back = to_host(gram)  # device -> host on CuPy
    print(f"{name:>5}: x is a {type(x).__module__}.{type(x).__name__}, x @ x.T too; "
          f"to_host gives a {type(back).__module__}.{type(back).__name__}")
    assert isinstance(back, np.ndarray) and back.dtype == np.float32
    np.testing.assert_allclose(back, x_host @ x_host.T, rtol=1e-4)  # the same numbers on every backend

# %% [markdown]
# ## When Python waits: sync points
#
# On CuPy, `y = x @ W` does not compute anything while Python waits: it puts
# a kernel in the GPU's queue and returns at once, and Python runs ahead to
# the next line. Python waits for the GPU only when it needs a result on the
# host: `float(a)`, `to_host(a)`, `a.item()`, printing an array, or
# `be.synchronize()` (which waits for CuPy's default stream, the one every
# kernel of the package is queued on). Each is a **sync point**.
#
# That makes timing easy to get wrong: a clock read after a loop of launches
# measures the launches, not the work. A fair timer synchronizes before it
# reads the clock. On NumPy both timers agree, because NumPy computes before
# it returns.

# %%
def seconds_per_product(be, n, synchronize, repeats=10):
    """Time n x n float32 matrix products on ``be``; with ``synchronize``, wait for the device first."""
    a = be.rng(0).standard_normal((n, n), dtype=np.float32)
    a @ a  # warm-up: CuPy loads its kernels on the first call
    be.synchronize()
    t = time.perf_counter()
    for _ in range(repeats):
        a @ a
    if synchronize:
        be.synchronize()
    return (time.perf_counter() - t) / repeats


n = 512 if FAST else 2048
for name in BACKENDS:
    be = get_backend(name)
    fair, unfair = seconds_per_product(be, n, True), seconds_per_product(be, n, False)
    print(f"{name:>5}: a {n}x{n} product {fair * 1e3:8.3f} ms timed with a sync, "
          f"{unfair * 1e3:8.3f} ms without ({2 * n**3 / fair / 1e9:,.0f} GFLOP/s)")

# %% [markdown]
# ## What crosses during a training run
#
# `train()` is written so that the step loop never copies data: the images
# go to the device once, the shuffled order once an epoch, and inside each
# step the batch is gathered, corrupted, pushed through the network and the
# optimizer without leaving the device. One number comes back per step: the
# batch loss, which the loop must see to stop on a NaN and to print the
# running mean. That `float(value)` is the step's only sync point.
#
# Rather than take that on trust, we count. The cell below wraps the two
# doors, `Backend.asarray` (host to device) and the checkpoint writer's
# `to_host` (device to host), and `train_step`, runs a two-epoch training,
# and prints who crossed, from which function, how often and how many
# bytes. On NumPy the doors are the same calls, copying nothing, so the
# count is the same on both backends.

# %%
crossings = {}  # (direction, the function that called the door) -> [calls, bytes]


def counting(door, direction):
    """``door`` wrapped so that each call is counted, with the bytes it moves, under its caller's name."""
    def counted(*args, **kwargs):
        out = door(*args, **kwargs)
        caller = sys._getframe(1)
        while caller.f_code.co_name.startswith("<"):  # a comprehension: name the function it is in
            caller = caller.f_back
        record = crossings.setdefault((direction, caller.f_code.co_name), [0, 0])
        record[0] += 1
        record[1] += getattr(out, "nbytes", 0)
        return out
    return counted


loop = importlib.import_module("scratchdae.loop")  # the module of the training loop
doors = [(Backend, "asarray", "host -> device"), (checkpoint, "to_host", "device -> host"),
         (loop, "train_step", "one training step, one sync")]
saved = [(owner, attr, getattr(owner, attr)) for owner, attr, _ in doors]
try:
    for owner, attr, direction in doors:
        setattr(owner, attr, counting(getattr(owner, attr), direction))
    train(out=RUNS / "counted", epochs=2, max_train=MAX_TRAIN, quiet=True, figures=False, seed=0)
finally:
    for owner, attr, door in saved:
        setattr(owner, attr, door)

for (direction, caller), (n, size) in crossings.items():
    moved = f"{size / 2**20:8.2f} MiB" if direction != "one training step, one sync" else "  4 bytes each"
    print(f"{direction:<28} in {caller + '()':<16} {n:5d} calls, {moved}")
steps = crossings["one training step, one sync", "run_epoch"][0]
to_device_in_loop = crossings["host -> device", "train"][0] + crossings["host -> device", "run_epoch"][0]
assert to_device_in_loop == 2 + 2  # the images and validation images once, the order once an epoch
print(f"{steps} steps, and {to_device_in_loop} copies to the device in the loop: none of them per step")

# %% [markdown]
# Reading the count: in `train()`, two copies to the device (the training
# and validation images), in `run_epoch()` one order an epoch; in `load_parameters()`,
# the best weights loaded back at the end; a few hundred steps with one
# 4-byte sync each. The copies back come once an epoch, to be written to
# disk: `save_model()` copies the weights to check them for NaN and
# `save_npz()` copies them again to write model.npz, then the weights and
# Adam's two moments (O4)-(O5) for checkpoint.npz. On a GPU these could
# share one copy; they are rare enough not to matter. On a GPU the per-step sync costs a few microseconds:
# it matters at small batches, where a step is short, and not at large ones.
# The lines themselves are in `scratchdae/loop.py` (search for `asarray`
# and `float(value)`).

# %% [markdown]
# ## The same training on every backend
#
# The same call with `backend=` set trains the same model. The two libraries
# draw different random numbers from the same seed (initial weights, order,
# noise), so the curves differ a little; on one backend the same seed gives
# the same numbers (on NumPy, to the last bit).

# %%
results = {}
for name in BACKENDS:
    t = time.perf_counter()
    r = train(out=RUNS / name, backend=name, epochs=EPOCHS, max_train=MAX_TRAIN, quiet=True, figures=False,
              seed=0)
    results[name] = (time.perf_counter() - t, r.history)
    last = r.history[-1]
    print(f"{name:>5}: {EPOCHS} epochs in {results[name][0]:6.1f} s; validation loss {last['val_loss']:9.2f}, "
          f"PSNR {last['val_psnr']:.2f} dB")
    assert last["val_psnr"] > 10  # denoised: the noisy input, with noise of std 0.5, sits at 6 dB

first = train(out=RUNS / "numpy-first", backend="numpy", epochs=1, max_train=1000, quiet=True, figures=False, seed=0)
again = train(out=RUNS / "numpy-again", backend="numpy", epochs=1, max_train=1000, quiet=True, figures=False, seed=0)
assert again.history[0]["val_loss"] == first.history[0]["val_loss"]  # bit for bit
print("NumPy, the same seed twice: validation loss", first.history[0]["val_loss"], "both times")

fig, ax = plt.subplots(figsize=(5.5, 3.4))
for name, (_, history) in results.items():
    ax.plot([h["epoch"] for h in history], [h["val_psnr"] for h in history], "o-", label=name)
ax.set_xlabel("epoch")
ax.set_ylabel("validation PSNR (dB)")
ax.legend()
ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# ## Batch size: where a GPU pulls ahead
#
# A step of the 784-1000-784 DAE makes five matrix products with the two
# 784 x 1000 weight matrices (0.78 M numbers each, 1.57 M together): x W for
# each layer (D1), dW for each (D2), and dx for the second layer only (D4;
# the first layer's input is data). That is 2 B (2 x 1.57 M + 0.78 M)
# floating-point operations for a batch of B images, 7.8 M per image. The
# optimizer's work (O4)-(O6) is the same whatever B is, so larger batches
# spread it thinner. On a CPU the images per second grow more and more
# slowly with the batch; a GPU has thousands of cores and keeps getting
# faster per image up to batches of several thousand. We time the
# package's own `train_step` at a few batch sizes on each backend.

# %%
def examples_per_second(name, batch, seconds):
    """The package's training step on ``name``, for about ``seconds`` s: examples a second."""
    be = get_backend(name)
    X = be.asarray(prepare_images(data.train_images[:4096]))  # every batch size below divides 4,096
    model = Autoencoder(784, 1000, seed=0, backend=be)
    loss, opt, corrupt, rng = GaussianNLL(0.1), Adam(1e-3), get_corruption("gaussian:0.5"), be.rng(1)
    params, order = model.parameters(), be.asarray(np.random.default_rng(2).permutation(len(X)))
    step = lambda i: train_step(model, loss, opt, corrupt, X, X, order[i * batch % len(X):][:batch], rng,  # noqa: E731
                                params)
    step(0)  # warm-up
    be.synchronize()
    n, t = 0, time.perf_counter()
    while time.perf_counter() - t < seconds:
        step(n)
        n += 1
    be.synchronize()
    return n * batch / (time.perf_counter() - t)


batches = [64, 256, 1024] + ([4096] if GPU else [])
speed = {name: [examples_per_second(name, b, 0.3 if FAST else 2.0) for b in batches] for name in BACKENDS}
for name, rates in speed.items():
    print(f"{name:>5}: " + ", ".join(f"batch {b}: {r:,.0f} images/s" for b, r in zip(batches, rates)))

fig, ax = plt.subplots(figsize=(5.5, 3.4))
for name, rates in speed.items():
    ax.plot(batches, rates, "o-", label=name)
ax.set_xscale("log", base=2)
ax.set_xlabel("batch size")
ax.set_ylabel("training images per second")
ax.legend()
ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# ## What a GPU gave us
#
# **Not measured yet.** No GPU has run this tutorial or the prepared check
# `benchmarks/gpu_check.sh` so far, and `docs/gpu.md` says so. When one has,
# `docs/gpu.md` records the card, the test suite on CuPy, and the training
# throughput against PyTorch on the same card at batch 256 and 4096, and this
# cell quotes those numbers. What the CPU gives is in
# `docs/performance.md` and in the cell above.
#
# What to expect, from the operation count: at batch 4096 a step is about
# 32 GFLOP of matrix products, which a GPU that sustains tens of TFLOP/s in
# float32 runs in a few milliseconds, against about 0.2 s on the 2-core CPU
# the package is measured on. At batch 64 the step is too small to fill the
# GPU, and the fixed costs (kernel launches, the per-step sync, Adam's dozen
# passes over the weights) decide.

# %% [markdown]
# ## Exercises
#
# 1. **The price of a sync.** Copy `examples_per_second` and change the step
#    so that the loss stays on the device: call the model, loss and
#    optimizer yourself as `train_step` does, but sum the batch losses in a
#    device array and read it once at the end. On a GPU, how much faster is
#    a step at batch 64? At batch 4096? Why do the two differ?
# 2. **Find the doors.** Search `scratchdae/loop.py`,
#    `scratchdae/inference.py` and `scratchdae/checkpoint.py` for
#    `asarray`, `to_host` and `float(`. For each, say whether it runs once a
#    run, once an epoch or once a step, and what would happen to the speed
#    on a GPU if it moved into the step loop.
# 3. **Why copy the data set once?** `train()` copies every training image
#    to the device before the first step. Suppose it copied each batch
#    instead, over a PCIe link that moves about 25 GB/s. How long would the
#    copy of a batch of 1024 images (784 float32 each) take, and how does it
#    compare with the step itself on a GPU that does 30 TFLOP/s?
# 4. **Predict, then measure.** From the operation count above, predict the
#    images per second on this machine at batch 1024 from the GFLOP/s the
#    matrix product cell printed. The measured rate is lower: which parts of
#    a step does the count leave out? (`python benchmarks/profile_step.py`
#    prints them.)
