"""Is the DAE chain's skewed class histogram slow mixing, or a biased stationary distribution?

A chain that mixes slowly remembers where it started: chains started from
test digits of each class stay in that class for long. A chain whose
stationary distribution is biased forgets its start and settles on the same
skewed histogram from everywhere. So: train the default DAE on the bundled
sample (or read ``--model``), start chains from test digits of each class
(``--per-class`` of each) and from uniform noise, run (MC1) for ``--steps``
steps, and classify the decoder means at a few steps with a linear probe on
raw pixels. Printed at each kept step: the share of the digit-started
chains still in their start class, the class histogram of the digit-started
and of the noise-started chains (its largest share and its entropy in bits,
3.32 for ten equal classes), and the distance between the two histograms
(total variation); each as the mean and range over ``--seeds`` chain seeds.

    python benchmarks/digit_chain.py [--model runs/first/model.npz] [--steps 1000] [--seeds 3]
"""
import argparse
import tempfile
from pathlib import Path

import numpy as np

from scratchdae import get_corruption, load_model, train
from scratchdae.backend import to_host
from scratchdae.probe import LinearProbe
from scratchdae.representation import labelled_digits
from scratchdae.sampling import markov_chain


def histogram(labels):
    return np.bincount(labels, minlength=10) / len(labels)


def entropy_bits(p):
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None, help="a digits model.npz (default: train the default DAE)")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--per-class", type=int, default=30)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    if args.model:
        model, loss, header = load_model(args.model)
    else:
        with tempfile.TemporaryDirectory() as out:
            train(out=out, quiet=True, figures=False, backend="numpy")
            model, loss, header = load_model(Path(out) / "model.npz")
    spec = header["corruption"]
    be = model.backend
    x_tr, y_tr, x_te, y_te, _ = labelled_digits("mnist-sample")
    probe = LinearProbe(seed=0).fit(x_tr, y_tr)
    starts = np.concatenate([np.nonzero(y_te == c)[0][:args.per_class] for c in range(10)])
    start_class = y_te[starts]
    keep = sorted({args.steps // 10, args.steps // 3, args.steps})
    corrupt = get_corruption(spec)
    rows = {t: [] for t in keep}
    for seed in range(args.seeds):
        digit_snaps, _ = markov_chain(model, loss, corrupt, be.asarray(x_te[starts]), args.steps, be.rng(seed),
                                      keep=keep)
        noise = np.random.default_rng([seed, 3]).random((len(starts), x_tr.shape[1]), dtype=np.float32)
        noise_snaps, _ = markov_chain(model, loss, corrupt, be.asarray(noise), args.steps, be.rng(1000 + seed),
                                      keep=keep)
        for t in keep:
            d = to_host(probe.predict(np.clip(digit_snaps[t], 0, 1).astype(np.float32)))
            n = to_host(probe.predict(np.clip(noise_snaps[t], 0, 1).astype(np.float32)))
            hd, hn = histogram(d), histogram(n)
            rows[t].append({"stayed": float(np.mean(d == start_class)), "top_digit": int(hd.argmax()),
                            "top_share_digit_starts": float(hd.max()), "top_share_noise_starts": float(hn.max()),
                            "six_digit_starts": float(hd[6]), "six_noise_starts": float(hn[6]),
                            "entropy_digit_starts": entropy_bits(hd), "entropy_noise_starts": entropy_bits(hn),
                            "tv_between_starts": float(0.5 * np.abs(hd - hn).sum())})
    print(f"{len(starts)} chains from test digits ({args.per_class} of each class) and {len(starts)} from noise, "
          f"{spec} corruption, {args.seeds} chain seeds; mean (range) over seeds")
    keys = ["stayed", "six_digit_starts", "six_noise_starts", "top_share_digit_starts", "top_share_noise_starts",
            "entropy_digit_starts", "entropy_noise_starts", "tv_between_starts"]
    print(f"{'step':>6} " + " ".join(f"{k:>24}" for k in keys))
    for t in keep:
        cells = []
        for k in keys:
            v = np.array([r[k] for r in rows[t]])
            cells.append(f"{v.mean():.3f} ({v.min():.3f}-{v.max():.3f})")
        print(f"{t:>6} " + " ".join(f"{c:>24}" for c in cells))
    print("most common digit at the last step, digit starts:", [r["top_digit"] for r in rows[keep[-1]]])


if __name__ == "__main__":
    main()
