r"""``scratchdae score``: a toy model's score field and denoiser against the exact ones."""
import argparse

from ..files import check_outputs, check_png_name
from .common import add_backend, add_output, path_arg, print_json, seed_arg, shown


def register(sub: argparse._SubParsersAction) -> None:
    """Add the command's parser; its handler is :func:`run`."""
    p = sub.add_parser("score", help="a toy model's score field and denoiser against the exact ones",
                       description="For a model trained with --dataset toy:NAME --noise gaussian:S: compare "
                                   "(r(x) - x)/S^2 with the exact score of the smoothed data, and r(x~) with the "
                                   "exact posterior mean E[x | x~], on points drawn from p_S.")
    p.add_argument("--model", type=path_arg, required=True, help="a model.npz trained on toy:NAME with Gaussian noise")
    p.add_argument("--points", type=int, default=20_000, help="points drawn from p_s to average over (20000)")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed of those points (0)")
    p.add_argument("--figure", type=path_arg, default=None, help="also write the learned and exact fields to this PNG")
    p.add_argument("--overwrite", action="store_true", help="replace the --figure file if it exists")
    add_output(p)
    add_backend(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``scratchdae score``: a toy model's score field and denoiser against the exact ones (S4, TM2, TM3)."""
    from ..score import load_toy_model, score_report

    if not 100 <= args.points <= 10_000_000:
        raise ValueError(f"--points must be from 100 to 10,000,000 (the averages need enough points), "
                         f"got {args.points}.")
    if args.figure is not None:
        if not args.figure.strip():
            raise ValueError("--figure is empty. Fix: --figure field.png, or leave it out.")
        check_png_name(args.figure, "--figure")
        check_outputs([args.figure], [args.model], args.overwrite, "--figure")
    model, loss, mixture, sigma = load_toy_model(args.model, args.backend)  # read once, for the report and figure
    widths = (model.config["n_in"], model.config.get("n_out") or model.config["n_in"])
    if widths != (mixture.dim, mixture.dim):
        raise ValueError(f"{args.model} reads {widths[0]} and gives {widths[1]} values per point, and its data set, "
                         f"toy:{mixture.name}, draws {mixture.dim}-D points: the "
                         "file does not describe a model of it (damaged, or saved by hand). Fix: pass a model trained "
                         "with scratchdae train --dataset toy:NAME.")
    r = score_report(model, loss, mixture, sigma, n=args.points, seed=args.seed)
    if args.figure:
        from ..corruption import GaussianNoise
        from ..figures import field_figure

        r["figure"] = str(field_figure(args.figure, model, loss, GaussianNoise(sigma),
                                       mixture.sample(2000, seed=args.seed), mixture=mixture))
    if args.json:
        print_json(r)
        return 0
    f, d = r["field"], r["denoising"]
    print(f"toy:{r['toy']}, noise s = {r['sigma']:g}; {r['n_points']:,} points x~ drawn from p_s (seed {r['seed']})")
    print("score field (r(x) - x)/s^2 against the exact grad log p_s:")
    print(f"  cosine (p_s-weighted) {f['cosine']:.4f}   relative L2 error {f['rel_l2']:.4f}   "
          f"norm ratio {f['norm_ratio']:.4f}")
    print("denoising, MSE per coordinate:")
    print(f"  noisy input {d['mse_noisy']:.5f}   model {d['mse_model']:.5f}   Bayes (exact E[x|x~]) "
          f"{d['mse_bayes']:.5f}   model / Bayes {d['ratio_to_bayes']:.4f}")
    if "figure" in r:
        print(f"figure      {shown(r['figure'])}")
    return 0

