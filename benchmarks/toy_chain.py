"""Does the DAE chain (MC1) sample the data? Checked on a toy mixture, where the answer is known.

On ``mixture8`` (8 modes of std 0.1 on a circle of radius 2, neighbours 1.53
apart) at noise s, chains of each kind start from points spread over the
square [-3, 3]^2 and run ``--steps`` steps; their last states are compared
with the data by ``sampling.mode_statistics``: the spread within the modes,
the mass between them (farther than 4 stds from every mean) and the largest
error of a mode's share.

The chains:

- **exact Gibbs**: x~ = x + s eps, then x drawn from the exact p(x | x~)
  (TM4): the chain a perfect DAE would run, whose stationary distribution is
  the data's (MC2);
- **exact mean + 0.1 eps**: the exact posterior mean (TM3) plus noise of the
  fixed std 0.1: what a DAE whose Gaussian decoder has a fixed sigma draws,
  even when its mean is exact;
- **DAE, fixed sigma**: a DAE trained with the default loss (Gaussian NLL,
  sigma 0.1 fixed), run by ``sampling.markov_chain``;
- **DAE, learned variance**: a DAE trained with ``gaussian-hetero``, whose
  decoder predicts a variance for each x~ and draws with it.

Each line is the mean over ``--seeds`` seeds (chain seeds for the exact
chains; training and chain seeds for the DAEs) with the range over them.
Run by hand:

    python benchmarks/toy_chain.py [--s 0.3,0.5] [--seeds 3] [--steps 300] [--chains 2000]
"""
import argparse
import tempfile

import numpy as np

from scratchdae import get_backend, get_corruption, train
from scratchdae.backend import to_host
from scratchdae.sampling import markov_chain, mixture_chain, mode_statistics
from scratchdae.toy import get_toy


def dae_chain(s, loss, seed, x0, steps):
    """Train a DAE on mixture8 at noise s with ``loss``, run its chain from x0; the last states."""
    with tempfile.TemporaryDirectory() as out:
        r = train(dataset="toy:mixture8", noise=f"gaussian:{s}", loss=loss, seed=seed, out=out, quiet=True,
                  figures=False, backend="numpy")
    be = get_backend("numpy")
    _, x = markov_chain(r.model, r.loss, get_corruption(f"gaussian:{s}"), be.asarray(x0, dtype="float32"), steps,
                        be.rng(100 + seed), keep=[steps])
    return to_host(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--s", default="0.3,0.5", help="noise levels")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--chains", type=int, default=2000)
    args = ap.parse_args()
    mixture = get_toy("mixture8")
    data = [mode_statistics(mixture.sample(args.chains, seed=k, dtype="float64"), mixture) for k in range(args.seeds)]
    print(f"mixture8, {args.chains} chains of {args.steps} steps from the square [-3, 3]^2, {args.seeds} seeds; "
          "mean (range) over seeds")
    header = f"{'s':>4} {'chain':<26} {'within-mode std':>22} {'between modes':>24} {'worst mode share error':>24}"
    print(header)

    def line(s, name, stats):
        cols = []
        for key, fmt in (("within_std", "{:.4f}"), ("between", "{:.2%}"), ("occupancy_error", "{:.3f}")):
            v = np.array([st[key] for st in stats])
            cols.append(f"{fmt.format(v.mean())} ({fmt.format(v.min())}-{fmt.format(v.max())})")
        print(f"{s:>4} {name:<26} {cols[0]:>22} {cols[1]:>24} {cols[2]:>24}", flush=True)

    line("-", "data", data)
    for s in map(float, args.s.split(",")):
        x0 = [np.random.default_rng([k, 5]).uniform(-3, 3, (args.chains, 2)) for k in range(args.seeds)]
        line(s, "exact Gibbs (TM4)", [mode_statistics(mixture_chain(mixture, s, x0[k], args.steps, k), mixture)
                                      for k in range(args.seeds)])
        line(s, "exact mean + 0.1 eps", [mode_statistics(
            mixture_chain(mixture, s, x0[k], args.steps, k, decoder_std=0.1), mixture) for k in range(args.seeds)])
        for name, loss in (("DAE, fixed sigma 0.1", "gaussian:0.1"), ("DAE, learned variance", "gaussian-hetero")):
            line(s, name, [mode_statistics(dae_chain(s, loss, k, x0[k], args.steps), mixture)
                           for k in range(args.seeds)])


if __name__ == "__main__":
    main()
