r"""``scratchdae sample``: the DAE Markov chain and measures of its samples."""
import argparse

from .common import (add_backend, add_labelled_data, add_output, labelled_dataset, log_for, path_arg, print_json,
                     seed_arg, shown)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the command's parser; its handler is :func:`run`."""
    p = sub.add_parser("sample", help="draw digits with the DAE Markov chain (corrupt, then sample the decoder)",
                       description="Run the DAE Markov chain of a digit model (corrupt with the training noise, then "
                                   "draw from the decoder's p(x | h)) from noise and from test digits; draw the "
                                   "chains; measure the last images of many chains against real digits: recognised "
                                   "by a linear probe, distance to the nearest training digit (copies), grey share "
                                   "of ink (blur), and how often a chain changes digit (mixing).")
    p.add_argument("--model", type=path_arg, required=True, help="a model.npz trained on digits")
    p.add_argument("--out", type=path_arg, required=True, help="folder for chain_noise.png and chain_digit.png")
    p.add_argument("--overwrite", action="store_true", help="replace those figures if --out holds them")
    p.add_argument("--steps", type=int, default=100, help="steps of the chain (100)")
    p.add_argument("--chains", type=int, default=10, help="chains drawn in each figure (10)")
    p.add_argument("--quality-chains", type=int, default=300,
                   help="chains from noise whose last images are measured (300; 0 skips the measures)")
    add_labelled_data(p, "the real images to compare with")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed of the starting noise and the chain (0)")
    add_output(p)
    add_backend(p)
    p.set_defaults(func=run)


def _ratio(value):
    """A ratio, or why there is none (its reference, the test digits' value, is 0)."""
    return "n/a (the test digits' value is 0)" if value is None else f"{value:.3f}"


def run(args: argparse.Namespace) -> int:
    """``scratchdae sample``: draw the DAE Markov chain (MC1), print the sample measures and the files."""
    from ..sampling import sample_report

    dataset = labelled_dataset(args)
    r = sample_report(args.model, args.out, steps=args.steps, chains=args.chains, quality_chains=args.quality_chains,
                      dataset=dataset, data_dir=args.data_dir, seed=args.seed, backend=args.backend,
                      log=log_for(args), overwrite=args.overwrite)
    if args.json:
        print_json(r)
        return 0
    print(f"DAE Markov chain: {r['steps']} steps of corrupt ({r['model_noise']}) then sample p(x | h)")
    q = r.get("quality")
    if q:
        print(f"{q['chains']} chains from noise, their last images against {'real test digits':}:")
        print(f"{'':<28} {'samples':>8} {'test digits':>12}")
        print(f"{'recognised by the probe':<28} {q['recognised']:>8.3f} {q['recognised_test']:>12.3f}")
        print(f"{'distance to nearest train':<28} {q['nn_distance_samples']:>8.3f} {q['nn_distance_test']:>12.3f}"
              f"   ratio {_ratio(q['nn_ratio'])} (copies and blurs: below 1)")
        print(f"{'nearer train than 95% test':<28} {q['copies']:>8.3f} {q['copies_test']:>12.3f}"
              f"   (copies, blurred or not: well above 0.05)")
        print(f"{'grey share of ink pixels':<28} {q['grey_samples']:>8.3f} {q['grey_test']:>12.3f}"
              f"   ratio {_ratio(q['grey_ratio'])} (two-digit averages: 1.8)")
        print(f"{'entropy of the digit classes':<28} {q['class_entropy_bits']:>8.2f} "
              f"{q['class_entropy_bits_test']:>12.2f}   bits (all ten alike: 3.32)")
        print(f"digits the probe sees: {dict(enumerate(q['classes']))}")
        print(f"mixing: {q['switches']:.2f} changes of digit per chain over steps {q['kept_steps'][0]}-"
              f"{q['kept_steps'][-1]}; {q['moved']:.0%} of the chains changed digit at least once")
    for name, path in r["files"].items():
        print(f"{name:<12} {shown(path)}")
    return 0

