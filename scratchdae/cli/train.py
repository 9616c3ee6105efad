r"""``scratchdae train``: train a DAE on digits or toy points; one option for each TrainConfig setting."""
import argparse
from pathlib import Path
from typing import Any

from .common import add_backend, add_settings, print_json, shown, shown_defaults


def register(sub: argparse._SubParsersAction) -> None:
    """Add the command's parser; its handler is :func:`run`."""
    from ..run.config import TrainConfig

    p = sub.add_parser("train", help="train a denoising autoencoder (default: the bundled MNIST sample)",
                       description="Train a DAE. Defaults in parentheses. Dirty documents: scratchdae documents "
                                   "train.")
    add_training_options(p, shown_defaults(("", TrainConfig()), ("toy", TrainConfig(dataset="toy:mixture8"))))
    p.set_defaults(func=run)


def add_training_options(p: argparse.ArgumentParser, defaults: dict[str, str], skip: tuple = ()) -> None:
    """The core's settings as options (TrainConfig's fields but ``skip``), and how a run is run; ``scratchdae
    documents train`` has them too."""
    from ..run.config import TrainConfig

    g = add_settings(p, TrainConfig, defaults, skip)["running"]
    add_backend(g)
    g.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    g.add_argument("--json", action="store_true",
                   help="print the outcome (best epoch, files) as one JSON object, and no progress")
    g.add_argument("--no-figures", dest="figures", action="store_false", default=None, help="skip the PNG figures")


def run(args: argparse.Namespace) -> int:
    """``scratchdae train``: train with the options given, print the files written; 130 when interrupted."""
    from ..loop import train
    from ..run.config import FIELDS

    settings = {k: v for k, v in vars(args).items() if k in FIELDS and v is not None}
    if args.data_dir and not args.dataset:  # a plain folder of IDX files, or a Kaggle dirty-documents folder
        from ..documents.pages import is_kaggle_folder

        if is_kaggle_folder(args.data_dir):
            raise ValueError(f"{args.data_dir} is a dirty-documents folder (train/, train_cleaned/), which documents "
                             "train on with their own command. Fix: scratchdae documents train --data-dir "
                             f"{args.data_dir}")
        settings["dataset"] = None  # the IDX files of that folder
    if args.json:
        settings["quiet"] = True
    return report(train(resume=args.resume, **settings), args)


def report(result: Any, args: argparse.Namespace) -> int:
    """Print the files a run wrote (or, with --json, its outcome); the exit status: 0, or as a shell reports the
    signal that interrupted it (130 SIGINT, 143 SIGTERM, 129 SIGHUP)."""
    if args.json:
        best = min(result.history, key=lambda h: h["val_loss"]) if result.history else None
        print_json({"out": str(result.out), "stopped": result.stopped, "epochs": len(result.history),
                    "best": best, "files": {k: str(v) for k, v in result.files.items()}})
    else:
        for name, path in result.files.items():
            if Path(path).exists():  # a run stopped early wrote only some
                print(f"{name:<12} {shown(path)}")
    if result.stopped != "interrupted":
        return 0
    return 128 + result.signal if result.signal else 130
