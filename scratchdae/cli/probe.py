r"""``scratchdae probe``: linear-probe accuracy of a model's code, with McNemar's exact test."""
import argparse

from .common import (add_backend, add_labelled_data, add_output, labelled_dataset, log_for, path_arg, print_json,
                     seed_arg)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the command's parser; its handler is :func:`run`."""
    p = sub.add_parser("probe", help="linear-probe accuracy of a model's code against raw pixels and a random net",
                       description="Fit softmax regression on the code h = E(x) of the labelled training digits, "
                                   "on the raw pixels, and on the code of a random network of the same shape; "
                                   "test on the test digits; compare each pair with McNemar's exact test.")
    p.add_argument("--model", type=path_arg, required=True, help="a model.npz trained on digits")
    p.add_argument("--compare", action="append", metavar="NAME=FILE",
                   help="another model's code to probe beside it (repeatable), e.g. plain=runs/plain/model.npz")
    add_labelled_data(p, "labelled images")
    p.add_argument("--max-train", type=int, default=None, help="probe on only the first N training images")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed of the probe and the random network (0)")
    add_output(p)
    add_backend(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``scratchdae probe``: linear-probe accuracy of the code, the pixels and a random net; McNemar's test (MN1)."""
    from ..representation import probe_report

    models = {}
    for item in args.compare or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"--compare takes NAME=MODEL_FILE, got {item!r}. "
                             "Fix: --compare plain=runs/plain/model.npz.")
        if name in models:
            raise ValueError(f"--compare names {name!r} twice. Fix: one name per model.")
        models[name] = path
    dataset = labelled_dataset(args)
    log = log_for(args)
    r = probe_report(args.model, models=models, dataset=dataset, data_dir=args.data_dir,
                     max_train=args.max_train, seed=args.seed, backend=args.backend, log=log)
    if args.json:
        print_json(r)
        return 0
    print(f"linear probe (softmax regression) on {r['n_train']:,} training digits of {r['dataset']}, "
          f"tested on {r['n_test']:,}")
    print(f"{'features':<12} {'size':>6} {'test accuracy':>14} {'L2 lam':>8}")
    for name, acc in r["accuracy"].items():
        print(f"{name:<12} {r['features'][name]:>6} {acc:>14.4f} {r['lam'][name]:>8g}")
    print("McNemar's exact test, on the same test digits (b: first right, second wrong; c: the reverse):")
    for pair, m in r["mcnemar"].items():
        print(f"  {pair:<24} b={m['b']:<4} c={m['c']:<4} p={m['p']:.3g}")
    return 0

