"""Where does a DAE start to memorise? DAEs of growing width and training length against the memorising oracle.

The expected squared error over fresh noise, on a finite set of training
digits, is minimised by the posterior mean of their empirical distribution
(S1): the "oracle", which gives a noisy training digit back nearly exactly and
answers an unseen digit with the nearest training digit. A DAE that reached
its objective's minimum would be that oracle. This benchmark trains the
default DAE (one hidden layer, ReLU, Gaussian noise 0.5, batch 64, Adam at a
constant 1e-3) with early stopping off, on the first N training digits of the
sample (90% fitted, as train() holds 10% out), with hidden widths W, and
measures it after 300, 1,000, 3,000 and 10,000 steps of 64 digits (the
default run on the whole sample takes 2,970), against the oracle over
exactly the fitted digits:

  PSNR on 200 noisy digits it fitted (seen) and on 200 noisy test digits (unseen);
  the gap seen - unseen (the oracle's is some 30 dB; a DAE that generalises has about 0);
  how close the DAE's outputs on seen digits are to the oracle's (PSNR between them).

With a constant learning rate and no early stopping, the model after k steps
of a long run is the model of a k-step run. Run by hand:

    python benchmarks/memorisation.py [--sizes 300,1000,7000] [--widths 64,256,1000,2000] [--seeds 2,1,1]

docs/what_a_dae_learns.md section 4 records what it printed.
"""
import argparse
import tempfile
import time

import numpy as np

from scratchdae import train
from scratchdae.corruption import get_corruption
from scratchdae.data import load_dataset
from scratchdae.inference import prepare_images, reconstruct
from scratchdae.metrics import psnr
from scratchdae.tasks import split_train_val

S = 0.5
EVAL = 200  # noisy digits per side


def oracle(x_tilde, reference, s=S):
    """The posterior mean of the empirical distribution of ``reference`` (S1): a softmax over squared distances."""
    d2 = (x_tilde**2).sum(1)[:, None] - 2 * x_tilde @ reference.T + (reference**2).sum(1)[None]
    logw = -d2 / (2 * s**2)
    w = np.exp(logw - logw.max(1, keepdims=True))
    return (w / w.sum(1, keepdims=True)) @ reference


MARKS = (300, 1000, 3000, 10_000)  # steps of 64 digits at which to measure


def run(n, width, seed, images, test):
    fit, val = split_train_val(n, 0.1, seed=seed)  # the split train() makes with this seed
    all_rows = prepare_images(images[:n], "float64")
    X = all_rows[fit]
    rng = np.random.default_rng([seed, 31])
    seen = X[rng.choice(len(X), min(EVAL, len(X)), replace=False)]
    unseen = test[:EVAL]
    corrupt = get_corruption(f"gaussian:{S}")
    noisy = {"seen": corrupt(seen, rng), "unseen": corrupt(unseen, rng)}
    clean = {"seen": seen, "unseen": unseen}
    best = {k: oracle(v, X) for k, v in noisy.items()}
    rows, count = [], [0]

    def on_step(epoch, step, run_):
        count[0] += 1
        if count[0] in MARKS:
            out = {k: reconstruct(run_.model, run_.loss, v.astype(np.float32)).astype(np.float64)
                   for k, v in noisy.items()}
            rows.append({"steps": count[0], **{k: psnr(np.mean((out[k] - clean[k]) ** 2)) for k in out},
                         "to_oracle": psnr(np.mean((out["seen"] - best["seen"]) ** 2))})
        if count[0] == MARKS[-1]:
            run_.stop()

    # a small set is repeated so that an epoch (a validation and a checkpoint) is about 5,000 digits
    reps = max(1, 5000 // len(X))
    t = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="memorisation-") as out:  # the run's files are not kept
        train(inputs=np.tile(X, (reps, 1)).astype(np.float32), val_inputs=all_rows[val].astype(np.float32),
              out=out, hidden=(width,), noise=f"gaussian:{S}", epochs=MARKS[-1] * 64 // (reps * len(X)) + 2,
              patience=0, seed=seed, quiet=True, figures=False, on_step=on_step)
    oracle_psnr = {k: psnr(np.mean((best[k] - clean[k]) ** 2)) for k in best}
    return rows, oracle_psnr, time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="300,1000,7000")
    ap.add_argument("--widths", default="64,256,1000,2000")
    ap.add_argument("--seeds", default="2,1,1", help="seeds per size")
    args = ap.parse_args()
    data = load_dataset("mnist-sample", log=lambda *a: None)
    test = prepare_images(data.test_images, "float64")
    print("| training digits (fitted) | width | steps | passes over the digits | PSNR seen | PSNR unseen | gap seen - unseen | "
          "DAE to oracle on seen | oracle seen / unseen |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, seeds in zip((int(v) for v in args.sizes.split(",")), (int(v) for v in args.seeds.split(","))):
        for width in (int(v) for v in args.widths.split(",")):
            per_seed = []
            for seed in range(seeds):
                rows, orc, sec = run(n, width, seed, data.train_images, test)
                per_seed.append((rows, orc))
            n_fit = len(split_train_val(n, 0.1, seed=0)[0])
            for i, row in enumerate(per_seed[0][0]):
                cell = {k: np.array([r[i][k] for r, _ in per_seed]) for k in ("seen", "unseen", "to_oracle")}
                gap = cell["seen"] - cell["unseen"]
                orc = np.mean([o["seen"] for _, o in per_seed]), np.mean([o["unseen"] for _, o in per_seed])

                def f(v):
                    return f"{v.mean():.2f} ({v.min():.2f}-{v.max():.2f})" if len(v) > 1 else f"{v[0]:.2f}"

                print(f"| {n_fit:,} | {width} | {row['steps']:,} | {row['steps'] * 64 / n_fit:,.0f} | "
                      f"{f(cell['seen'])} | {f(cell['unseen'])} | {f(gap)} | {f(cell['to_oracle'])} | "
                      f"{orc[0]:.1f} / {orc[1]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
