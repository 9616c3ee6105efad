"""Where a training step's time goes: gather, noise, each layer's forward and backward, loss, optimizer.

Runs the package's own ``train_step`` (the code the training loop runs), with a
timer wrapped around each part it calls, and prints each part's share of the
step. Then it times the step's matrix products alone (the same shapes, on the
same machine) to say how much of the step is GEMM and how much is the rest.

    python benchmarks/profile_step.py                        # 784-1000-784, batch 64, 256, 1024
    python benchmarks/profile_step.py --net 784-512-128-512-784 --batches 1024

Run by hand on an otherwise idle machine; the wrappers cost a few microseconds a call.
"""
import argparse
import collections
import time

import scratchdae  # noqa: F401  first, before NumPy loads, so that its OpenBLAS setting takes effect

# isort: split
import numpy as np

from scratchdae import Adam, Autoencoder, GaussianNLL, fast, get_backend, get_corruption, prepare_images
from scratchdae.data import load_dataset
from scratchdae.loop import train_step

NETS = {"784-1000-784": (1000,), "784-512-128-512-784": (512, 128)}


class Timers:
    """Seconds spent in each named part, summed over the steps."""

    def __init__(self, sync):
        self.total, self.sync = collections.defaultdict(float), sync

    def wrap(self, obj, method, name):
        real = getattr(obj, method)

        def timed(*args, **kw):
            self.sync()
            t = time.perf_counter()
            out = real(*args, **kw)
            self.sync()
            self.total[name] += time.perf_counter() - t
            return out

        setattr(obj, method, timed)


class TimedArray:
    """The data array, so that the gather ``X[idx]`` is timed as one part."""

    def __init__(self, X, timers):
        self.X, self.timers = X, timers

    def __getitem__(self, idx):
        t = time.perf_counter()
        out = self.X[idx]
        self.timers.total["gather"] += time.perf_counter() - t
        return out


def profile(net, batch, steps, backend):
    fast.keep_freed_host_memory()  # as train() does
    be = get_backend(backend)
    X = be.asarray(prepare_images(load_dataset("mnist-sample", log=lambda *a: None).train_images))
    model = Autoencoder(784, NETS[net], seed=0, backend=be)
    loss, corrupt = GaussianNLL(0.1), get_corruption("gaussian:0.5")
    opt = fast.accelerate(Adam(1e-3))  # the fast step that train() uses (scratchdae/fast.py)
    params, rng = model.parameters(), be.rng(3)
    timers = Timers(be.synchronize)
    for lname, layer in model._named_layers():
        timers.wrap(layer, "forward", f"{lname} forward")
        timers.wrap(layer, "backward", f"{lname} backward")
    timers.wrap(loss, "forward", "loss forward")
    timers.wrap(loss, "backward", "loss backward")
    timers.wrap(opt, "step", "optimizer (Adam)")
    timers.wrap(corrupt, "__call__", "noise")
    noise = lambda x, r: corrupt.__call__(x, r)  # noqa: E731  the instance's timed __call__
    data = TimedArray(X, timers)
    order, state = np.random.default_rng(2), {"perm": None, "at": len(X)}

    def run(n):
        for _ in range(n):
            if state["at"] + batch > len(X):  # a new epoch: a new order, as the training loop draws
                state["perm"], state["at"] = be.asarray(order.permutation(len(X))), 0
            idx = state["perm"][state["at"]:state["at"] + batch]
            state["at"] += batch
            train_step(model, loss, opt, noise, data, data, idx, rng, params)

    run(10)  # warm-up
    timers.total.clear()
    be.synchronize()
    t0 = time.perf_counter()
    run(steps)
    be.synchronize()
    step_time = (time.perf_counter() - t0) / steps
    parts = {k: v / steps for k, v in timers.total.items()}
    gemm = gemm_time(model, batch, be, steps)
    return step_time, parts, gemm


def gemm_time(model, batch, be, steps):
    """Seconds per step of the step's matrix products alone: x W, the dW products and the dx products."""
    layers = [layer for _, layer in model._named_layers()]
    rng = np.random.default_rng(0)
    ops = []
    for i, layer in enumerate(layers):
        W = layer.weight()
        x = be.asarray(rng.random((batch, W.shape[0]), dtype=np.float32))
        dz = be.asarray(rng.random((batch, W.shape[1]), dtype=np.float32))
        ops.append(lambda x=x, W=W: x @ W)  # (D1)
        ops.append(lambda x=x, dz=dz: x.T @ dz)  # (D2)
        if i > 0:
            ops.append(lambda dz=dz, W=W: dz @ W.T)  # (D4), not for the first layer
    for op in ops:
        op()
    be.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        for op in ops:
            op()
    be.synchronize()
    return (time.perf_counter() - t0) / steps


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--net", default="784-1000-784", choices=list(NETS))
    ap.add_argument("--batches", default="64,256,1024")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--backend", default="numpy")
    args = ap.parse_args()
    for batch in [int(b) for b in args.batches.split(",")]:
        step, parts, gemm = profile(args.net, batch, args.steps, args.backend)
        print(f"\n{args.net}, batch {batch}: {step * 1e3:.2f} ms a step ({batch / step:,.0f} examples/s); "
              f"its GEMMs alone take {gemm * 1e3:.2f} ms = {gemm / step:.0%} of the step")
        listed = sum(parts.values())
        for name, t in sorted(parts.items(), key=lambda kv: -kv[1]):
            print(f"  {name:<26} {t * 1e3:8.3f} ms  {t / step:6.1%}")
        print(f"  {'(the rest: loop, float())':<26} {(step - listed) * 1e3:8.3f} ms  {(step - listed) / step:6.1%}")


if __name__ == "__main__":
    main()
