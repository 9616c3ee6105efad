r"""``scratchdae gradcheck``: every backward pass against central differences."""
import argparse

from ..backend import get_backend
from .common import add_backend, add_output, print_json


def register(sub: argparse._SubParsersAction) -> None:
    """Add the command's parser; its handler is :func:`run`."""
    p = sub.add_parser("gradcheck", help="check every backward pass against central differences")
    add_output(p)
    add_backend(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``scratchdae gradcheck``: every backward pass against central differences (GC1, GC2); 1 when one fails."""
    from ..gradient_check import TOLERANCE, run_all

    be = get_backend(args.backend)
    table = not (args.json or args.quiet)
    if table:
        print(f"gradient checks on {be.name}, float64, central differences; pass when max relative error <= "
              f"{TOLERANCE:g}")
        print(f"{'check':<62} {'max rel. error':>14}  result")
    checks = []
    for name, err, ok in run_all(be):
        checks.append({"check": name, "max_rel_error": err, "passed": bool(ok)})
        if table:
            print(f"{name:<62} {err:>14.2e}  {'pass' if ok else 'FAIL'}")
    failed = sum(not c["passed"] for c in checks)
    if args.json:
        print_json({"backend": be.name, "tolerance": TOLERANCE, "checks": checks, "failed": failed})
    else:
        print(f"all {len(checks)} checks passed" if not failed else f"{failed} of {len(checks)} checks FAILED")
    return 1 if failed else 0

