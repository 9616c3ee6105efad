r"""The ``scratchdae`` command line. Each subcommand calls the Python API of the
same name, so everything here can also be done from a notebook.

    scratchdae gradcheck [--backend B]
    scratchdae info
"""
import argparse
import os
import sys

from . import __version__
from .backend import BACKEND_NAMES, ENV_VAR, BackendUnavailable, available_backends, get_backend


def _add_backend(p):
    p.add_argument("--backend", choices=BACKEND_NAMES, default=None,
                   help=f"array backend (default: ${ENV_VAR}, else numpy)")


def cmd_gradcheck(args):
    from .gradient_check import TOLERANCE, run_all

    be = get_backend(args.backend)
    print(f"gradient checks on {be.name}, float64, central differences; pass when max relative error <= {TOLERANCE:g}")
    print(f"{'check':<52} {'max rel. error':>14}  result")
    failed = 0
    for name, err, ok in run_all(be):
        failed += not ok
        print(f"{name:<52} {err:>14.2e}  {'pass' if ok else 'FAIL'}")
    print(f"{'all checks passed' if not failed else f'{failed} check(s) FAILED'}")
    return 1 if failed else 0


def cmd_info(args):
    import numpy as np

    print(f"scratchdae {__version__}")
    print(f"python     {sys.version.split()[0]}")
    print(f"numpy      {np.__version__}")
    try:
        import matplotlib
        print(f"matplotlib {matplotlib.__version__}")
    except ImportError:
        print("matplotlib not installed")
    backends = available_backends()
    if "cupy" in backends:
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(0)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        print(f"cupy       {cupy.__version__}, GPU 0: {name}, {props['totalGlobalMem'] / 2**30:.1f} GiB")
    else:
        try:
            import cupy  # noqa: F401
            print("cupy       installed, but no usable GPU")
        except ImportError:
            print("cupy       not installed (pip install 'scratchdae[cuda12]' on a GPU machine)")
    print(f"backends   {', '.join(backends)} (default: {get_backend(None).name}"
          f"{', from $' + ENV_VAR if os.environ.get(ENV_VAR) else ''})")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="scratchdae", description="Denoising autoencoders from scratch.")
    parser.add_argument("--version", action="version", version=f"scratchdae {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("gradcheck", help="check every backward pass against central differences")
    _add_backend(p)
    p.set_defaults(func=cmd_gradcheck)
    p = sub.add_parser("info", help="versions, backends and the GPU if any")
    p.set_defaults(func=cmd_info)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, BackendUnavailable, OSError) as err:
        print(f"scratchdae {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"scratchdae {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
