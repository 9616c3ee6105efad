"""An A4 page scanned at 300 dpi (2480 x 3508 pixels): seconds and peak memory of cleaning it.

The page is made of generated pages enlarged 2.5x (text at the size a
300-dpi scan gives), two columns of them, cropped to A4. Each method cleans
it in a process of its own (so that each one's peak memory is its own), the
methods taking turns round after round (so that the machine's load weighs on
each alike). Peak memory is the process's largest resident set, read after
cleaning, with what the process held before it (Python, NumPy, the model)
beside it. Run by hand:

    python benchmarks/documents_a4.py --model runs/docs/model.npz [--rounds 3]
"""
import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

A4 = (3508, 2480)  # rows, columns at 300 dpi


def a4_page() -> np.ndarray:
    """A 300-dpi A4 page (float32 in [0, 1]) of generated pages enlarged 2.5x, two columns of them."""
    from scratchdae.documents.filters import resize
    from scratchdae.documents.generate import make_page

    H, W = A4
    page = np.ones(A4, np.float32)
    row, i = 0, 0
    while row < H:
        tallest = 0
        for col in (0, W // 2):
            noisy = make_page([2480, i]).noisy / np.float32(255)
            i += 1
            big = np.clip(resize(noisy, round(noisy.shape[0] * 2.5), round(noisy.shape[1] * 2.5)), 0, 1)
            h, w = min(big.shape[0], H - row), min(big.shape[1], W - col)
            page[row:row + h, col:col + w] = big[:h, :w]
            tallest = max(tallest, h)
        row += tallest
    return page


def one(method: str, model: str) -> dict:
    """Clean the A4 page with one method, in this process; its seconds and memory."""
    from scratchdae.documents.pages import global_threshold, median_background_subtraction
    from scratchdae.documents.stacked import load_cleaner

    page = a4_page()
    clean = {"median background subtraction": lambda: median_background_subtraction,
             "global threshold": lambda: global_threshold, "model": lambda: load_cleaner(model),
             "model, rules and specks kept": lambda: load_cleaner(model, tidy=False)}[method]()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MB (Linux: kB)
    t = time.perf_counter()
    out = clean(page)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert out.shape == page.shape
    return {"seconds": seconds, "peak_mb": peak, "before_mb": before}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # the child process: one method
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.model)))
        return
    methods = ["model", "model, rules and specks kept", "median background subtraction", "global threshold"]
    runs = {m: [] for m in methods}
    for r in range(args.rounds):
        for m in methods:
            out = subprocess.run([sys.executable, __file__, "--model", args.model, "--one", m], capture_output=True,
                                 text=True, check=True)
            runs[m].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"round {r + 1}: {m}: {runs[m][-1]['seconds']:.2f} s, peak {runs[m][-1]['peak_mb']:.0f} MB",
                  flush=True)
    print(f"\nA4 at 300 dpi ({A4[1]}x{A4[0]} pixels), {args.rounds} rounds, each method in its own process:")
    for m, rs in runs.items():
        s = [r["seconds"] for r in rs]
        print(f"  {m:<32} median {np.median(s):6.2f} s (range {min(s):.2f}-{max(s):.2f}); peak memory "
              f"{max(r['peak_mb'] for r in rs):.0f} MB ({max(r['before_mb'] for r in rs):.0f} MB before cleaning)")
    print(json.dumps({m: {"seconds": [r["seconds"] for r in rs], "peak_mb": [r["peak_mb"] for r in rs]}
                      for m, rs in runs.items()}))


if __name__ == "__main__":
    main()
