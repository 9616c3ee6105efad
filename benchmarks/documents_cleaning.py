"""How the settings of cleaning trade time for quality, on one trained document model.

``--stride`` (pixels between windows) and ``--keep-paper`` (where a stacked
model's second stage keeps the first stage's patch) do not change what
training learns (tests/test_documents.py checks that the weights are the same
to the bit); they change how a page is cleaned, so they are options of the
commands that clean. This prints, for each setting, the RMSE on held-out
pages (mean over pages, and the paired difference from the model file's own
setting with its standard error over pages) and the seconds per 540x420 page
(all settings timed interleaved, page by page, so that the machine's load
weighs on each alike). Run by hand on a trained model:

    python benchmarks/documents_cleaning.py --model runs/docs/model.npz [--pages 12] [--repeats 3]
"""
import argparse
import json
import time

import numpy as np

from scratchdae.documents.generate import make_page
from scratchdae.documents.other_pages import other_pages
from scratchdae.documents.stacked import load_cleaner
from scratchdae.documents.training import make_pages


def settings_of(cleaner):
    """The cleanings to compare: every stride up to the patch size, and for two stages keep_paper 0 and 0.9."""
    spec = cleaner.stages[-1].spec
    own = (spec.stride, spec.keep_paper if len(cleaner.stages) > 1 else None)
    grid = [(s, own[1]) for s in range(1, spec.patch + 1)]
    if len(cleaner.stages) > 1:
        grid += [(own[0], tau) for tau in (0.0, 0.9) if tau != own[1]]
    return own, grid


def name_of(stride, keep_paper):
    return f"stride {stride}" + ("" if keep_paper is None else f", keep paper {keep_paper:g}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="a model.npz written by scratchdae documents train")
    ap.add_argument("--pages", type=int, default=12, help="held-out pages of each generator")
    ap.add_argument("--repeats", type=int, default=3, help="timed cleanings of the 540x420 page per setting")
    args = ap.parse_args()
    base = load_cleaner(args.model)
    own, grid = settings_of(base)
    cleaners = {name_of(*g): base.cleaning(*g) for g in grid}
    print(f"{base!r} {args.model}; its own cleaning: {name_of(*own)}")
    sets = {"main generator (held-out seeds)": [p.floats() for p in make_pages(args.pages, 12345, "test")],
            "second generator": [p.floats() for p in other_pages(args.pages, 12345)]}
    result = {}
    for set_name, pairs in sets.items():
        errors = {name: [] for name in cleaners}  # per page: mean squared error
        for noisy, clean in pairs:
            for name, cleaner in cleaners.items():
                errors[name].append(float(np.mean((cleaner(noisy).astype(np.float64) - clean) ** 2)))
        ref = np.array(errors[name_of(*own)])
        print(f"\n{len(pairs)} pages, {set_name}: RMSE over all pixels; paired difference from the file's own "
              "setting, mean +- standard error over pages")
        result[set_name] = {}
        for name, e in errors.items():
            e = np.array(e)
            rmse = float(np.sqrt(e.mean()))
            d = np.sqrt(e) - np.sqrt(ref)  # per page RMSE difference
            se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
            result[set_name][name] = {"rmse": rmse, "diff": float(d.mean()), "diff_se": se}
            print(f"  {name:<28} RMSE {rmse:.4f}   {d.mean():+.4f} +- {se:.4f}")
    page = make_page([1, 2], height=420).noisy / np.float32(255)
    times = {name: [] for name in cleaners}
    for _ in range(args.repeats):
        for name, cleaner in cleaners.items():  # interleaved
            t = time.perf_counter()
            cleaner(page)
            times[name].append(time.perf_counter() - t)
    own_t = np.array(times[name_of(*own)])
    print(f"\ncleaning one 540x420 page ({args.repeats} runs each, interleaved): median seconds, and the median of "
          "the paired ratios to the file's own setting")
    for name, t in times.items():
        ratio = float(np.median(np.array(t) / own_t))
        result.setdefault("seconds", {})[name] = {"median": float(np.median(t)), "ratio": ratio}
        print(f"  {name:<28} {np.median(t):.2f} s   x{ratio:.2f}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
