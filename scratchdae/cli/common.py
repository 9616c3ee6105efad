r"""What the commands share: argument types, --json/--quiet/--backend, and printing results."""
import argparse
import json
import math
import os
import sys
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from ..backend import BACKEND_NAMES, ENV_VAR


def add_backend(p: Any) -> None:
    """--backend, the same on every command."""
    p.add_argument("--backend", choices=BACKEND_NAMES, default=None,
                   help=f"array backend (default: ${ENV_VAR}, else numpy)")


def labelled_dataset(args: argparse.Namespace) -> str | None:
    """--dataset, or with only --data-dir the IDX files of that folder (None), else the bundled sample."""
    return args.dataset or (None if args.data_dir else "mnist-sample")


def add_labelled_data(p: Any, what: str) -> None:
    """--dataset and --data-dir of the commands that need labelled digits."""
    p.add_argument("--dataset", choices=["mnist-sample", "mnist", "fashion-mnist"], default=None,
                   help=f"{what} (mnist-sample; with only --data-dir: the IDX files in that folder)")
    p.add_argument("--data-dir", type=path_arg, default=None,
                   help="a folder of IDX files with labels, or where --dataset's are")


def path_arg(text: str) -> str:
    """An argparse type: a file or folder name, not empty (an unset shell variable gives '')."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; expected a file or folder name (an unset shell variable?)")
    return text


def seed_arg(text: str) -> int:
    """An argparse type: a seed, an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r} (e.g. --seed 0)")
    return value


def sizes(text: str) -> tuple[int, ...]:
    """An argparse type: layer sizes, 1000 or 512,128 (none: no layers)."""
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        return tuple(int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected layer sizes like 1000 or 512,128, got {text!r}") from None


def dataset_arg(text: str) -> str:
    """An argparse type: a data set ``scratchdae train`` trains on."""
    from ..data import DATASETS
    from ..toy import TOY_DATASETS

    names = [*DATASETS] + [f"toy:{t}" for t in TOY_DATASETS]
    if text == "documents":
        raise argparse.ArgumentTypeError("documents are trained by their own command, with their own options. Fix: "
                                         "scratchdae documents train")
    if text not in names:
        raise argparse.ArgumentTypeError(f"unknown data set {text!r}; expected one of: {', '.join(names)}")
    return text


def add_settings(p: argparse.ArgumentParser, cls: type, defaults: dict[str, str],
                 skip: tuple = ()) -> dict[str, argparse._ArgumentGroup]:
    """One option for each field of a settings dataclass (TrainConfig, DocumentsConfig), in its group, with the
    field's help and ``defaults[name]`` (the default as the help shows it). Options left out stay None, so the
    settings' own defaults (which depend on the task) apply. Returns the groups by name."""
    groups = {}
    for f in fields(cls):
        meta = f.metadata
        if not meta.get("option", True) or f.name in skip:
            continue
        if meta["group"] not in groups:
            groups[meta["group"]] = p.add_argument_group(meta["group"])
        g = groups[meta["group"]]
        kwargs = dict(meta["cli"])
        kind = kwargs.pop("type", None)
        if f.type is bool:
            kwargs.update(action="store_true")
        elif kind is not None:
            kwargs["type"] = TYPES.get(kind, kind)
        shown = defaults.get(f.name)
        g.add_argument(f"--{f.name.replace('_', '-')}", default=None,
                       help=meta["help"] + (f" ({shown})" if shown not in (None, "") else ""), **kwargs)
    return groups


def shown_defaults(*configs: tuple[str, object]) -> dict[str, str]:
    """Each setting's default as the help shows it: the first config's value, then each other's where it differs
    ("30; toy: 300")."""
    (first_label, first), *others = configs
    shown = {}
    for name, value in vars(first).items():
        text = _show(value)
        extra = [f"{label}: {_show(getattr(c, name))}" for label, c in others if getattr(c, name) != value]
        shown[name] = "; ".join(filter(None, [text, *extra]))
    return shown


def _show(value):
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def finite(value: Any) -> Any:
    """JSON has no Infinity or NaN: they become null (a PSNR of a perfect match is infinite)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def print_json(r: Any) -> None:
    """One JSON object on stdout: the results of a command with --json."""
    print(json.dumps(finite(r), default=str, allow_nan=False))


def add_output(p: Any, json: bool = True) -> None:
    """--json and --quiet, the same on every command."""
    if json:
        p.add_argument("--json", action="store_true", help="print the results as one JSON object, and no progress")
    p.add_argument("--quiet", action="store_true", help="print only the results: no progress lines")


def log_for(args: argparse.Namespace) -> Callable[..., None]:
    """Progress lines go to stderr, so that stdout holds only the results; none with --quiet or --json."""
    if getattr(args, "quiet", False) or getattr(args, "json", False):
        return lambda *a: None
    return lambda *a: print(*a, file=sys.stderr)


def shown(path: Any) -> str:
    """A path as the commands print it: the bytes of a name that is not UTF-8 escaped (bad\\xff.png), so that what is
    printed names the file written, never a replacement character."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def count(n: int, noun: str) -> str:
    """'1 page', '3 pages'."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


# the parsers a setting's metadata names
TYPES = {"sizes": sizes, "seed": seed_arg, "path": path_arg, "dataset": dataset_arg}
