"""Is the code h = E(x) a good representation? Filters by noise level, and the linear-probe table.

Trains the default 784-1000-784 DAE (ReLU) on the bundled MNIST sample with
no noise (a plain autoencoder), Gaussian noise 0.1, 0.3 and 0.5, and masking
noise 0.5, plus the classic sigmoid denoising autoencoder with masking noise
0.5 (Vincent et al. 2008). Writes their first-layer filters side by side as
one figure, then probes each code with softmax regression (the linear probe
of ``scratchdae probe``) against the raw pixels and a freshly initialised
network of the same shape (ReLU and sigmoid), on the sample's 1,000 test
digits, with McNemar's exact test for each pair. Then runs the DAE Markov
chain of the Gaussian-0.5 model and measures its samples. Run by hand:

    python benchmarks/representation.py [--out runs/representation] [--epochs 30]

Targets: the best DAE beats the raw pixels by >= 3 points and the random
network of its shape with McNemar p < 0.01. docs/what_a_dae_learns.md records
what we measured.
"""
import argparse
import json
import time
from pathlib import Path

from scratchdae.figures import filters_by_noise_figure
from scratchdae.representation import probe_report
from scratchdae.sampling import sample_report
from scratchdae import train

CONFIGS = {
    "plain AE (no noise)": dict(noise="none"),
    "gaussian:0.1": dict(noise="gaussian:0.1"),
    "gaussian:0.3": dict(noise="gaussian:0.3"),
    "gaussian:0.5": dict(noise="gaussian:0.5"),
    "masking:0.5": dict(noise="masking:0.5"),
    "sigmoid, masking:0.5": dict(noise="masking:0.5", activation="sigmoid"),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="runs/representation")
    ap.add_argument("--epochs", type=int, default=30)
    args = ap.parse_args()
    out = Path(args.out)
    models, seconds = {}, {}
    for name, kw in CONFIGS.items():
        folder = out / name.replace(" ", "_").replace(":", "").replace(",", "").replace("(", "").replace(")", "")
        t = time.perf_counter()
        r = train(out=folder, epochs=args.epochs, quiet=True, figures=False, **kw)
        seconds[name] = time.perf_counter() - t
        models[name] = r.model
        print(f"trained {name:<22} {len(r.history):>3} epochs, {seconds[name]:.0f} s, "
              f"validation PSNR {r.history[-1]['val_psnr']:.2f} dB", flush=True)
    figure = filters_by_noise_figure(out / "filters_by_noise.png",
                                     {k: m.encoder.layers[0].params["W"] for k, m in models.items()}, (28, 28))
    print(f"filters figure: {figure}")

    relu = {k: m for k, m in models.items() if not k.startswith("sigmoid")}
    report = probe_report(relu["gaussian:0.5"], models={k: m for k, m in relu.items() if k != "gaussian:0.5"})
    sig = probe_report(models["sigmoid, masking:0.5"])
    acc = {"raw pixels": report["accuracy"]["raw"], "random ReLU net": report["accuracy"]["random"],
           "gaussian:0.5": report["accuracy"]["model"],
           **{k: v for k, v in report["accuracy"].items() if k not in ("raw", "random", "model")},
           "random sigmoid net": sig["accuracy"]["random"], "sigmoid, masking:0.5": sig["accuracy"]["model"]}
    print(f"\n{'code probed':<24} {'test accuracy':>13}  (softmax regression on {report['n_train']:,} "
          f"training digits, {report['n_test']:,} test digits)")
    for name, a in sorted(acc.items(), key=lambda kv: kv[1]):
        print(f"{name:<24} {a:>13.3f}")
    print("\nMcNemar's exact test (b: first right and second wrong; c: the reverse)")
    for pair, m in {**report["mcnemar"], **{f"sigmoid {k}": v for k, v in sig["mcnemar"].items()}}.items():
        print(f"  {pair.replace('model', 'gaussian:0.5') if not pair.startswith('sigmoid') else pair:<42} "
              f"b={m['b']:<4} c={m['c']:<4} p={m['p']:.2g}")

    print("\nDAE Markov chain of the gaussian:0.5 model, 100 steps from noise, 300 chains")
    s = sample_report(out / "gaussian0.5" / "model.npz", out / "samples", steps=100)
    print(json.dumps(s["quality"]))
    print(f"figures: {s['files']}")


if __name__ == "__main__":
    main()
