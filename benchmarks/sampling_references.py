"""Do the sample measures tell copies, blurs and new digits apart? The DAE chain's samples beside references.

For each of K default DAEs (Gaussian noise 0.5, seeds 0..K-1; by default the
ones benchmarks/probe_study.py trained, else trained here), runs 300 chains
(MC1) from uniform noise for 1,000 steps and measures, with the measures of
``scratchdae sample`` (:func:`scratchdae.sampling.sample_quality`):

  the chain's decoder means at steps 100 and 1,000 (what one shows), and its
  actual draws at step 100 (mean + 0.1 eps: the chain's state);
  real test digits (300 of the sample's test digits, not the measures' reference half);
  the DAE's training digits themselves (exact copies);
  blurred copies: the DAE's outputs on its own training digits with noise 0.5;
  new digits, smoothed: the DAE's outputs on test digits with noise 0.5;
  two-digit averages: the mean of two test digits.

Prints each measure's mean over the seeds with its range, the class
histogram of the chains with its spread, and a test of whether the samples
are recognised as often as real digits. Run by hand:

    python benchmarks/sampling_references.py [--seeds 5] [--models runs/probe_study/mnist-sample]

docs/what_a_dae_learns.md section 3 records what it printed.
"""
import argparse
import math
import time
from pathlib import Path

import numpy as np

from scratchdae import train
from scratchdae.checkpoint import load_model
from scratchdae.corruption import get_corruption
from scratchdae.probe import LinearProbe
from scratchdae.representation import labelled_digits
from scratchdae.sampling import markov_chain, sample_quality
from scratchdae.stats import t_two_sided
from scratchdae.tasks import split_train_val

CHAINS, SHORT, LONG = 300, 100, 1000
MEASURES = [("recognised", "recognised (p >= 0.9)"), ("class_entropy_bits", "class entropy (bits)"),
            ("nn_ratio", "distance to nearest training digit, over real digits'"),
            ("copies", "nearer the training digits than 95% of new digits"),
            ("grey_ratio", "grey share of ink, over real digits'")]


def model_for(seed, folder):
    path = Path(folder) / f"seed{seed}" / "gaussian_0.5" / "model.npz"
    if not path.exists():
        train(out=path.parent, epochs=30, seed=seed, noise="gaussian:0.5", quiet=True, figures=False)
    return load_model(path)


def one_seed(k, folder, x_tr, y_tr, x_te):
    model, loss, header = model_for(k, folder)
    corrupt, be, rng = get_corruption(header["corruption"]), model.backend, np.random.default_rng([k, 21])
    fit, _ = split_train_val(len(x_tr), 0.1, seed=k)  # the rows train() fitted with seed k
    brng = be.rng(k)

    def dae_out(x):
        return np.clip(loss.reconstruction(model.forward(corrupt(be.asarray(x), brng))[0]), 0, 1)

    x0 = be.asarray(rng.random((CHAINS, x_tr.shape[1]), dtype=np.float32))
    snaps, draws = markov_chain(model, loss, corrupt, x0, SHORT, brng, keep=[SHORT])
    more, _ = markov_chain(model, loss, corrupt, draws, LONG - SHORT, brng, keep=[LONG - SHORT])
    held = x_te[len(x_te) // 2:]  # sample_quality's reference is the first half of the test digits
    pick = rng.choice(len(held), CHAINS, replace=len(held) < CHAINS)
    own = x_tr[rng.choice(fit, CHAINS, replace=False)]
    a, b = rng.permutation(len(held))[:CHAINS], rng.permutation(len(held))[:CHAINS]
    sets = {
        "chain means, step 100": snaps[SHORT],
        "chain means, step 1,000": more[LONG - SHORT],
        "chain draws, step 100": np.clip(np.asarray(draws), 0, 1),
        "real test digits": held[pick],
        "training digits (copies)": own,
        "blurred copies: DAE(noisy training digit)": dae_out(own),
        "smoothed new digits: DAE(noisy test digit)": dae_out(held[pick]),
        "two-digit averages": (held[a] + held[b]) / 2,
    }
    classifier = LinearProbe(seed=k).fit(x_tr, y_tr)
    return {name: sample_quality(x, x_tr, x_te, classifier) for name, x in sets.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--models", default="runs/probe_study/mnist-sample")
    args = ap.parse_args()
    x_tr, y_tr, x_te, y_te, _ = labelled_digits()
    runs = []
    for k in range(args.seeds):
        t = time.perf_counter()
        runs.append(one_seed(k, args.models, x_tr, y_tr, x_te))
        q = runs[-1]["chain means, step 100"]
        print(f"seed {k} ({time.perf_counter() - t:.0f} s): recognised {q['recognised']:.3f}, "
              f"copies {q['copies']:.3f}, grey ratio {q['grey_ratio']:.3f}, classes {q['classes']}", flush=True)

    print(f"\n{CHAINS} images per set and seed; mean over {args.seeds} DAE and chain seeds (range)")
    print("| images | " + " | ".join(label for _, label in MEASURES) + " |")
    print("|---|" + "---|" * len(MEASURES))
    for name in runs[0]:
        cells = []
        for key, _ in MEASURES:
            v = np.array([r[name][key] for r in runs])
            cells.append(f"{v.mean():.3f} ({v.min():.3f}-{v.max():.3f})")
        print(f"| {name} | " + " | ".join(cells) + " |")
    q0 = runs[0]["chain means, step 100"]
    print(f"reference values: real test digits' class entropy {q0['class_entropy_bits_test']:.2f} bits; "
          f"copy test on the held-out half itself {q0['copies_test']:.3f} by construction")

    # recognised: samples against all 1,000 real test digits, per seed, over seeds and the test set
    d = np.array([r["chain means, step 100"]["recognised"] - r["chain means, step 100"]["recognised_test"]
                  for r in runs])
    p_test = np.mean([r["chain means, step 100"]["recognised_test"] for r in runs])
    seed_term, test_term = d.var(ddof=1) / len(d), p_test * (1 - p_test) / len(x_te)
    se = math.sqrt(seed_term + test_term)
    df = se**4 / (seed_term**2 / (len(d) - 1) + test_term**2 / (len(x_te) - 1))
    print(f"\nrecognised, samples (step 100) minus real test digits: {d.mean():+.3f} (per seed "
          + ", ".join(f"{v:+.3f}" for v in d) + f"), SE {se:.3f}, p = {t_two_sided(d.mean() / se, df):.2g}")

    for name in ("chain means, step 100", "chain means, step 1,000"):
        counts = np.array([r[name]["classes"] for r in runs]) / CHAINS
        print(f"\nclasses of the {name} (share of {CHAINS} chains; mean, range over seeds)")
        print("| digit | " + " | ".join(str(c) for c in range(counts.shape[1])) + " |")
        print("|---|" + "---|" * counts.shape[1])
        print("| share | " + " | ".join(f"{m:.2f} ({lo:.2f}-{hi:.2f})" for m, lo, hi in
                                       zip(counts.mean(0), counts.min(0), counts.max(0))) + " |")
        print("most common digit per seed: " + ", ".join(f"{int(c.argmax())} ({c.max():.2f})" for c in counts))


if __name__ == "__main__":
    main()
