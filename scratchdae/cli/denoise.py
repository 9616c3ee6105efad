r"""``scratchdae denoise``: denoise PNG images (digits, or pages of any size) with a trained model."""
import argparse

from .common import add_backend, add_output, path_arg, print_json, shown


def register(sub: argparse._SubParsersAction) -> None:
    """Add the command's parser; its handler is :func:`run`."""
    p = sub.add_parser("denoise", help="denoise PNG images with a trained model")
    p.add_argument("--model", type=path_arg, required=True, help="a model.npz written by scratchdae train")
    p.add_argument("inputs", type=path_arg, nargs="+",
                   help="PNG images of the size the model was trained on (a document model: pages of any size)")
    p.add_argument("--out", type=path_arg, required=True, help="folder for the denoised PNGs (same names, ending in .png)")
    p.add_argument("--overwrite", action="store_true", help="replace files of those names already in --out")
    from ..tasks import applications

    for app in applications():  # the settings with which an application's models clean
        if app.cleaning:
            g = p.add_argument_group(f"cleaning with a model of {app.task}")
            for name, kw in app.cleaning.items():
                g.add_argument(f"--{name.replace('_', '-')}", dest=name, default=None, **kw)
    add_output(p)
    add_backend(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``scratchdae denoise``: write the denoised PNGs and print their paths."""
    from ..evaluate import denoise
    from ..tasks import applications

    cleaning = {name: getattr(args, name) for app in applications() for name in app.cleaning}
    paths = denoise(args.model, args.inputs, args.out, backend=args.backend, overwrite=args.overwrite, **cleaning)
    if args.json:
        print_json({"model": args.model, "outputs": [str(p) for p in paths]})
    else:
        for path in paths:
            print(shown(path))
    return 0

