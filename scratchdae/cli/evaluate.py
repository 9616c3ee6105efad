r"""``scratchdae evaluate``: corrupt, denoise and score images with a trained model."""
import argparse

from .common import add_backend, add_output, log_for, path_arg, print_json, seed_arg


def register(sub: argparse._SubParsersAction) -> None:
    """Add the command's parser; its handler is :func:`run`."""
    p = sub.add_parser("evaluate", help="corrupt, denoise and score images with a trained model")
    p.add_argument("--model", type=path_arg, required=True, help="a model.npz written by scratchdae train")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--images", type=path_arg, help="an IDX file of images (raw or .gz)")
    src.add_argument("--dataset", choices=["mnist-sample", "mnist", "fashion-mnist"], help="its test split")
    p.add_argument("--data-dir", type=path_arg,
                   help="a folder of IDX files (its test split), or where --dataset's files are")
    p.add_argument("--noise", help="noise spec (default: the one the model was trained with)")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed of the corruption (0)")
    add_output(p)
    add_backend(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``scratchdae evaluate``: MSE, PSNR and NLL of the noisy and the denoised images, as a table or JSON."""
    from ..evaluate import evaluate

    dataset = args.dataset
    if args.images and args.data_dir:
        raise ValueError("--images and --data-dir both say what to evaluate on. Fix: give one of them.")
    if dataset is None and args.data_dir is None and args.images is None:
        raise ValueError("say what to evaluate on. Fix: --images IDX_FILE, --dataset NAME or --data-dir DIR.")
    r = evaluate(args.model, images=args.images, dataset=dataset, data_dir=args.data_dir, noise=args.noise,
                 seed=args.seed, backend=args.backend, log=log_for(args))
    if args.json:
        print_json(r)
        return 0
    loss = ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in r["loss_config"].items()
                     if k != "name")
    print(f"{r['n_images']} images from {r['images']}, noise {r['noise']} (seed {r['seed']}), "
          f"loss {r['loss']}{f' ({loss})' if loss else ''}; its constant part: {r['nll_constant']:.1f} nats/image")
    print(f"{'':<10} {'MSE':>9} {'PSNR (dB)':>10} {'NLL (nats/image)':>17}")
    for k in ("noisy", "denoised"):
        nll = r[f"nll_{k}"]
        print(f"{k:<10} {r[f'mse_{k}']:>9.5f} {r[f'psnr_{k}']:>10.2f} {'-' if nll is None else f'{nll:.2f}':>17}")
    return 0

