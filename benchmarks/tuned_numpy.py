"""A plain NumPy DAE written for speed alone: the peer the package's readable code should match.

The same maths as a scratchdae training step with the benchmark's settings
(ReLU hidden layers, a sigmoid output, Gaussian NLL with sigma 0.1, Adam with
lr 1e-3, Gaussian noise 0.5 drawn fresh every batch, float32), written the way
one writes NumPy when speed is all that counts: every array a batch needs is
made once and reused (``out=`` everywhere), the sigmoid and the loss's
gradient share passes, and Adam runs in pieces on every core. It is not part
of the package and is read by no student; ``train_throughput.py`` runs it as a
third side, so that the package is measured against the best plain NumPy can
do on the same machine, not only against PyTorch.
"""
import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

PIECE = 1 << 17


class TunedDAE:
    """Dense ReLU layers, a sigmoid output, Gaussian NLL, Adam; ``step(idx)`` trains on the rows ``idx`` of X."""

    def __init__(self, X, sizes, batch, *, sigma=0.1, noise=0.5, lr=1e-3, seed=0, noise_seed=3):
        f32 = np.float32
        rng = np.random.default_rng(seed)
        self.X, self.sizes, self.sigma, self.noise, self.lr = X, sizes, sigma, noise, lr
        self.W, self.b = [], []
        for i, (a, o) in enumerate(zip(sizes[:-1], sizes[1:])):
            if i == len(sizes) - 2:  # the sigmoid output: Glorot
                bound = math.sqrt(6 / (a + o))
                self.W.append((rng.random((a, o), dtype=f32) * (2 * bound) - bound).astype(f32))
            else:  # ReLU: He
                self.W.append(rng.standard_normal((a, o), dtype=f32) * f32(math.sqrt(2 / a)))
            self.b.append(np.zeros(o, f32))
        self.params = self.W + self.b
        self.grads = [np.empty_like(p) for p in self.params]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.tmp = [np.empty_like(p) for p in self.params]
        self.t = 0
        self.rng = np.random.default_rng(noise_seed)
        B = batch
        self.x = np.empty((B, sizes[0]), f32)
        self.xt = np.empty((B, sizes[0]), f32)
        self.acts = [np.empty((B, o), f32) for o in sizes[1:]]
        self.deltas = [np.empty((B, o), f32) for o in sizes[1:]]
        self.masks = [np.empty((B, o), bool) for o in sizes[1:-1]]
        self.ones = np.ones(B, f32)
        self.pool = ThreadPoolExecutor(len(os.sched_getaffinity(0)))
        pieces = []
        for p, g, m, v, tmp in zip(self.params, self.grads, self.m, self.v, self.tmp):
            flat = [a.reshape(-1) for a in (p, g, m, v, tmp)]
            pieces += [[a[i:i + PIECE] for a in flat] for i in range(0, p.size, PIECE)]
        n = self.pool._max_workers  # one list of pieces per thread, dealt in turn
        self.shares = [pieces[i::n] for i in range(n)]

    def step(self, idx):
        f32 = np.float32
        x, xt, acts, deltas, B = self.x, self.xt, self.acts, self.deltas, len(idx)
        np.take(self.X, idx, axis=0, out=x)
        self.rng.standard_normal(out=xt, dtype=f32)
        xt *= f32(self.noise)
        xt += x
        a = xt
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            z = acts[i]
            np.matmul(a, W, out=z)
            z += b
            if i < len(self.W) - 1:
                np.maximum(z, 0, out=z)
            else:  # sigmoid in place
                np.negative(z, out=z)
                with np.errstate(over="ignore"):
                    np.exp(z, out=z)
                z += 1
                np.reciprocal(z, out=z)
            a = z
        mu, d = acts[-1], deltas[-1]
        np.subtract(mu, x, out=d)  # r
        value = float(np.vdot(d, d)) / (2 * self.sigma**2 * B) + x.shape[1] * (
            math.log(self.sigma) + 0.5 * math.log(2 * math.pi))
        # dL/dz = r / (sigma^2 B) * mu (1 - mu)
        np.subtract(1, mu, out=x)  # x is no longer needed
        x *= mu
        d *= x
        d *= f32(1 / (self.sigma**2 * B))
        L = len(self.W)
        for i in reversed(range(L)):
            below = acts[i - 1] if i else xt
            np.matmul(below.T, deltas[i], out=self.grads[i])
            np.matmul(self.ones, deltas[i], out=self.grads[L + i])
            if i:
                dx = deltas[i - 1]
                np.matmul(deltas[i], self.W[i].T, out=dx)
                np.greater(below, 0, out=self.masks[i - 1])  # ReLU's derivative: 1 where a > 0
                dx *= self.masks[i - 1]
        self.t += 1
        b1, b2, eps = 0.9, 0.999, 1e-8
        bc1, sbc2 = 1 - b1**self.t, math.sqrt(1 - b2**self.t)
        step, eps_hat = f32(self.lr * sbc2 / bc1), f32(eps * sbc2)
        c1, c2 = f32(1 - b1), f32(1 - b2)

        def adam(share):
            for p, g, m, v, tmp in share:
                np.subtract(g, m, out=tmp)
                tmp *= c1
                m += tmp
                np.multiply(g, g, out=tmp)
                v -= tmp
                v *= f32(b2)
                v += tmp
                np.sqrt(v, out=tmp)
                tmp += eps_hat
                np.divide(m, tmp, out=tmp)
                tmp *= step
                p -= tmp

        list(self.pool.map(adam, self.shares))
        return value
