r"""``scratchdae info``: versions, the BLAS, the backends and the GPU."""
import argparse
import os
import sys

from .. import __version__
from ..backend import ENV_VAR, Unavailable, available_backends, get_backend
from .common import print_json


def register(sub: argparse._SubParsersAction) -> None:
    """Add the command's parser; its handler is :func:`run`."""
    p = sub.add_parser("info", help="versions (NumPy and its BLAS, matplotlib, Pillow, CuPy), backends and the GPU")
    p.add_argument("--json", action="store_true", help="print it as one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``scratchdae info``: versions, the BLAS, the backends and the GPU."""
    import numpy as np

    try:  # a $SCRATCHDAE_BACKEND that cannot work is what info is there to show, not an error of info's
        default, problem = get_backend(None).name, None
    except (ValueError, Unavailable) as err:
        default, problem = None, str(err)
    matplotlib, figures_problem = _matplotlib()
    info = {"scratchdae": __version__, "python": sys.version.split()[0], "numpy": np.__version__,
            "blas": _blas(), "matplotlib": matplotlib, "matplotlib_error": figures_problem, "pillow": _version("PIL"),
            "cupy": _version("cupy"), "gpu": None, "backends": available_backends(),
            "default_backend": default, "backend_from_env": bool(os.environ.get(ENV_VAR)), "backend_error": problem}
    if "cupy" in info["backends"]:
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(0)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        info["gpu"] = {"name": name, "memory_gib": round(props["totalGlobalMem"] / 2**30, 1)}
    if args.json:
        print_json(info)
        return 0
    missing = "not installed"
    print(f"scratchdae {info['scratchdae']}")
    print(f"python     {info['python']}")
    print(f"numpy      {info['numpy']}, BLAS: {info['blas'] or 'not reported'}")
    print(f"matplotlib {info['matplotlib'] or missing}"
          f"{f' (commands that draw figures stop: {figures_problem})' if figures_problem else ''}")
    print(f"pillow     {info['pillow'] or missing}")
    if info["gpu"]:
        print(f"cupy       {info['cupy']}, GPU 0: {info['gpu']['name']}, {info['gpu']['memory_gib']} GiB")
    elif info["cupy"]:
        print(f"cupy       {info['cupy']}, but no usable GPU")
    else:
        print("cupy       not installed (pip install 'scratchdae[cuda12]' on a GPU machine)")
    if problem:
        print(f"backends   {', '.join(info['backends'])} (default: none; commands without --backend stop: "
              f"{problem})")
    else:
        print(f"backends   {', '.join(info['backends'])} (default: {info['default_backend']}"
              f"{', from $' + ENV_VAR if info['backend_from_env'] else ''})")
    return 0


def _version(module):
    """A module's version, or None when it is not installed."""
    import importlib

    try:
        return getattr(importlib.import_module(module), "__version__", "unknown version")
    except ImportError:
        return None


def _matplotlib():
    """(matplotlib's version, what stops it from loading or None): a $MPLBACKEND it does not know stops it as it is
    imported, which info reports, as a $SCRATCHDAE_BACKEND that cannot work, rather than fail on."""
    try:
        return _version("matplotlib"), None
    except ValueError as err:
        from importlib.metadata import PackageNotFoundError, version

        try:
            installed = version("matplotlib")
        except PackageNotFoundError:
            installed = "unknown version"
        backend = os.environ.get("MPLBACKEND")
        if backend is not None and "backend" in str(err):
            return installed, (f"the environment variable MPLBACKEND is {backend!r}, which matplotlib does not know. "
                               "Fix: unset MPLBACKEND, or set MPLBACKEND=Agg")
        return installed, f"matplotlib cannot be loaded ({err}). Fix: reinstall it, pip install -U matplotlib"


def _blas():
    """The BLAS library NumPy calls for matrix products, with its threads, as NumPy reports it."""
    import contextlib
    import io

    import numpy as np

    try:
        config = np.show_config(mode="dicts")  # NumPy >= 1.26
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except (TypeError, KeyError, AttributeError):
        text = io.StringIO()
        with contextlib.redirect_stdout(text):
            np.show_config()
        names = [line.split("=", 1)[1].strip() for line in text.getvalue().splitlines()
                 if line.strip().startswith(("name =", "libraries ="))]
        return names[0] if names else None

