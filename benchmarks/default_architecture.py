"""The evidence behind the default architecture of ``scratchdae train``.

Trains candidate DAEs on the bundled MNIST sample (Gaussian noise sigma 0.5,
the default task), each under the same wall-clock budget, and reports the
PSNR on the 1,000 held-out test digits. Run by hand:

    python benchmarks/default_architecture.py [--budget 50]

Numbers depend on the machine; docs/benchmarks.md records what we measured.
"""
import argparse
import tempfile
import time

from scratchdae.evaluate import evaluate
from scratchdae import train

CANDIDATES = [
    dict(hidden=(1000,), lr=1e-3, batch_size=64),
    dict(hidden=(1000,), lr=2e-3, batch_size=128),
    dict(hidden=(2000,), lr=1e-3, batch_size=64),
    dict(hidden=(512,), lr=1e-3, batch_size=64),
    dict(hidden=(1000, 500), lr=1e-3, batch_size=64),
    dict(hidden=(1000,), lr=1e-3, batch_size=64, tied=True),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=float, default=50.0, help="wall-clock seconds of training per candidate")
    ap.add_argument("--epochs", type=int, default=100)
    args = ap.parse_args()
    print(f"{'candidate':<58} {'epochs':>6} {'train s':>8} {'test PSNR':>10}")
    for cand in CANDIDATES:
        with tempfile.TemporaryDirectory() as out:
            t = time.perf_counter()
            r = train(out=out, epochs=args.epochs, max_seconds=args.budget, patience=0, quiet=True,
                      figures=False, **cand)
            seconds = time.perf_counter() - t
            score = evaluate(f"{out}/model.npz", dataset="mnist-sample", seed=0)
        print(f"{str(cand):<58} {len(r.history):>6} {seconds:>8.1f} {score['psnr_denoised']:>8.2f} dB")


if __name__ == "__main__":
    main()
