"""Is a DAE's code a better representation? The linear probe over seeds, with pre-registered tests.

For each data set and each seed k, trains the codes below (784-1000-784, 30
epochs, patience 5, seed k), draws a random ReLU and a random sigmoid network
of the same shape (seed 1000 + k), fits the linear probe of ``scratchdae
probe`` (seed k) on the features of the first 7,000 training images, and
scores it on every test image: the sample's 1,000 MNIST digits, and all
10,000 Fashion-MNIST test images (``apt-get install dataset-fashion-mnist``).
The seed moves all three: the DAE, its random twin and the probe.

The tests are fixed below, before any result of this script was seen
(COMPARISONS and TRENDS); every one is run once, on every data set, and
Holm's correction (ST5) is taken over all of them together. Each is a
contrast over seeds and test digits (ST1)-(ST3), so it counts how much a
result moves from seed to seed as well as from digit to digit. Run by hand:

    python benchmarks/probe_study.py [--seeds 5] [--data mnist-sample,fashion-mnist]

Results per seed go to --out (default runs/probe_study) and are reused when
the script runs again with the same settings. docs/what_a_dae_learns.md
section 2 records what it printed.
"""
import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from scratchdae import train
from scratchdae.checkpoint import load_model
from scratchdae.inference import encode
from scratchdae.probe import LinearProbe, mcnemar_exact
from scratchdae.representation import labelled_digits, random_twin
from scratchdae.stats import contrast_test, holm, t_quantile

FASHION_DIR = "/usr/share/datasets/fashion-mnist"
N_TRAIN = 7000  # labelled training images: the DAE trains on 90% of them, the probe on all
EPOCHS = 30

TRAINED = {  # code -> training settings
    "plain AE": dict(noise="none"),
    "gaussian 0.1": dict(noise="gaussian:0.1"),
    "gaussian 0.3": dict(noise="gaussian:0.3"),
    "gaussian 0.5": dict(noise="gaussian:0.5"),  # the default `scratchdae train`
    "masking 0.5": dict(noise="masking:0.5"),
    "sigmoid masking 0.5": dict(noise="masking:0.5", activation="sigmoid"),  # Vincent et al. 2008
}
CODES = ["raw pixels", "random ReLU", "random sigmoid", *TRAINED]

# Pre-registered: (better?, than). Each is tested two-sided; the sign of the estimate says which way.
COMPARISONS = [
    ("gaussian 0.5", "raw pixels"),
    ("gaussian 0.5", "random ReLU"),
    ("gaussian 0.5", "plain AE"),
    ("masking 0.5", "raw pixels"),
    ("masking 0.5", "random ReLU"),
    ("sigmoid masking 0.5", "raw pixels"),
    ("sigmoid masking 0.5", "random sigmoid"),
    ("random ReLU", "raw pixels"),
]
# "More noise, a better code": the slope of accuracy against the Gaussian noise's std (0 = no noise).
TRENDS = {"accuracy per unit of Gaussian noise": [("plain AE", 0.0), ("gaussian 0.1", 0.1),
                                                   ("gaussian 0.3", 0.3), ("gaussian 0.5", 0.5)]}


def data_args(name):
    if name == "fashion-mnist":
        return dict(dataset="fashion-mnist", data_dir=FASHION_DIR)
    return dict(dataset=name, data_dir=None)


def one_seed(name, k, folder):
    """Probe every code for seed k on data set ``name``; cached in folder/correct.npz."""
    cache = folder / "correct.npz"
    if cache.exists():
        with np.load(cache) as z:
            if int(z["epochs"]) == EPOCHS and all(c in z for c in CODES):
                return {c: z[c] for c in CODES}, json.loads(str(z["info"]))
    x_tr, y_tr, x_te, y_te, _ = labelled_digits(**data_args(name), max_train=N_TRAIN)
    models, info = {}, {}
    for code, kw in TRAINED.items():
        out = folder / code.replace(" ", "_")
        t = time.perf_counter()
        if (out / "model.npz").exists():
            models[code] = load_model(out / "model.npz")[0]
        else:
            r = train(out=out, epochs=EPOCHS, seed=k, max_train=N_TRAIN, quiet=True, figures=False,
                      **data_args(name), **kw)
            models[code] = r.model
            info[code] = {"epochs": len(r.history), "val_psnr": r.history[-1]["val_psnr"],
                          "seconds": time.perf_counter() - t}
    models["random ReLU"] = random_twin(models["gaussian 0.5"], seed=1000 + k)
    models["random sigmoid"] = random_twin(models["sigmoid masking 0.5"], seed=1000 + k)
    correct = {}
    for code in CODES:
        if code == "raw pixels":
            f_tr, f_te = x_tr, x_te
        else:
            m = models[code]
            f_tr, f_te = encode(m, x_tr.astype(m.dtype)), encode(m, x_te.astype(m.dtype))
        correct[code] = np.asarray(LinearProbe(seed=k).fit(f_tr, y_tr).correct(f_te, y_te))
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "correct.tmp.npz"
    np.savez(tmp, epochs=EPOCHS, info=json.dumps(info), **correct)
    tmp.replace(cache)
    return correct, info


def fmt_p(p):
    return "< 1e-12" if p < 1e-12 else f"{p:.2g}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="runs/probe_study")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--data", default="mnist-sample,fashion-mnist")
    args = ap.parse_args()
    names = args.data.split(",")
    results = {}
    for name in names:
        per_seed = []
        for k in range(args.seeds):
            t = time.perf_counter()
            correct, info = one_seed(name, k, Path(args.out) / name / f"seed{k}")
            per_seed.append(correct)
            print(f"{name} seed {k} ({time.perf_counter() - t:.0f} s): "
                  + ", ".join(f"{c} {correct[c].mean():.4f}" for c in CODES), flush=True)
        results[name] = {c: np.stack([s[c] for s in per_seed]) for c in CODES}  # code -> K x n

    tests = []  # (data, label, contrast result, extra)
    for name in names:
        R = results[name]
        for a, b in COMPARISONS:
            r = contrast_test(np.stack([R[a], R[b]]), (1.0, -1.0))
            mc = [mcnemar_exact(R[a][k], R[b][k])["p"] for k in range(args.seeds)]
            tests.append((name, f"{a} - {b}", r, f"McNemar per seed {min(mc):.2g}-{max(mc):.2g}"))
        for label, levels in TRENDS.items():
            s = np.array([v for _, v in levels])
            w = (s - s.mean()) / ((s - s.mean()) ** 2).sum()  # least-squares slope of accuracy on s
            r = contrast_test(np.stack([R[c] for c, _ in levels]), w)
            tests.append((name, label, r, "slope per seed " + ", ".join(f"{v:+.3f}" for v in r["per_seed"])))
    adjusted = holm([r["p"] for _, _, r, _ in tests])
    m = len(tests)

    for name in names:
        R = results[name]
        n = R[CODES[0]].shape[1]
        print(f"\n{name}: probe accuracy on {n:,} test images over {args.seeds} seeds "
              f"(mean, range over seeds, standard error of the mean over seeds and digits)")
        print("| code | mean | range over seeds | SE |\n|---|---|---|---|")
        for c in sorted(CODES, key=lambda c: R[c].mean()):
            acc = R[c].mean(axis=1)
            se = math.sqrt(acc.var(ddof=1) / len(acc) + R[c].mean(axis=0).var(ddof=1) / n)
            print(f"| {c} | {acc.mean():.4f} | {acc.min():.4f}-{acc.max():.4f} | {se:.4f} |")
    print(f"\nPre-registered tests ({m}), two-sided, Holm-corrected over all {m}; 'detectable' is the contrast "
          f"found 80% of the time at level 0.05/{m} (the strictest Holm step)")
    print("| data | contrast | estimate | SE | df | p | Holm p | detectable | |\n|---|---|---|---|---|---|---|---|---|")
    for (name, label, r, extra), pa in zip(tests, adjusted):
        # (ST4) at alpha / m, from the test's own SE and df
        d = (t_quantile(1 - 0.05 / m / 2, r["df"]) + t_quantile(0.8, r["df"])) * r["se"] if r["se"] else 0.0
        print(f"| {name} | {label} | {r['estimate']:+.4f} | {r['se']:.4f} | {r['df']:.0f} | {fmt_p(r['p'])} | "
              f"{fmt_p(pa)} | {d:.4f} | {extra} |")
    verdicts = [(name, label, r["estimate"], pa) for (name, label, r, _), pa in zip(tests, adjusted)]
    print("\npassing Holm-corrected 0.05: " + "; ".join(f"{n}: {l} ({e:+.4f})" for n, l, e, p in verdicts
                                                         if p <= 0.05))
    print("not passing: " + "; ".join(f"{n}: {l} ({e:+.4f}, Holm p {fmt_p(p)})" for n, l, e, p in verdicts
                                      if p > 0.05))


if __name__ == "__main__":
    main()
