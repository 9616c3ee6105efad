"""The dirty-documents benchmark: held-out fonts and paper, baselines, speed.

Trains the document DAE with the defaults of ``scratchdae train --dataset
documents`` on generated pages of two font families (serif, sans) and three
background families (coffee, folded, wrinkled), then scores it on fresh pages
whose font family (monospace/typewriter) and background family (watermark)
it never saw, beside the baselines measured on the same pages, and times the
cleaning of one 540x420 page. Run by hand:

    python benchmarks/documents.py [--pages 20] [--out runs/bench-documents] [-- TRAIN OPTIONS]
    python benchmarks/documents.py --model runs/bench-documents/model.npz   # score a trained model again

Options after ``--`` go to the training as ``scratchdae train`` takes them
(``-- --stages 1``, ``-- --variety``). A stacked model (two stages) is scored
with its first stage alone beside it, on the same pages, and timed beside
its second stage run on every window (``--keep-paper 0``), interleaved.

Then it scores pages of every font family and background family, seen in
training or not, and prints the RMSE per font family, per font size and per
background family, and near marks that are not text; and pages of the second
generator (scratchdae/documents/other_pages.py), drawn differently on purpose.
"""
import argparse
import json
import time

import numpy as np

from scratchdae.cli import build_parser
from scratchdae.documents.evaluate import GROUPS, score_pages
from scratchdae.documents.generate import make_page
from scratchdae.documents.other_pages import other_pages
from scratchdae.documents.stacked import load_cleaner
from scratchdae.documents.training import generated_pages, make_pages
from scratchdae.documents import train_cleaner
from scratchdae.documents.config import FIELDS as DOCUMENTS
from scratchdae.run.config import FIELDS
from scratchdae.run.folder import new_run_dir


def train_options(argv):
    """The settings ``scratchdae documents train ARGV`` would change, as train_cleaner() keywords."""
    args = build_parser().parse_args(["documents", "train", *argv])
    return {k: v for k, v in vars(args).items() if (k in FIELDS or k in DOCUMENTS) and v is not None}


def second_stage_everywhere(cleaner):
    """The same stacked cleaner with its second stage run on every window (``keep_paper`` 0), or None."""
    if len(cleaner.stages) < 2 or not cleaner.stages[1].spec.keep_paper:
        return None
    return cleaner.cleaning(keep_paper=0.0)


def page_seconds(cleaners, page, runs=5):
    """{name: seconds of each run} for cleaning ``page``, the cleaners' runs interleaved (the machine's
    load then weighs on each alike)."""
    times = {name: [] for name in cleaners}
    for _ in range(runs):
        for name, cleaner in cleaners.items():
            t = time.perf_counter()
            cleaner(page)
            times[name].append(time.perf_counter() - t)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=20, help="held-out test pages")
    ap.add_argument("--group-pages", type=int, default=24, help="pages of all families, for the tables by group")
    ap.add_argument("--other-pages", type=int, default=20, help="pages of the second generator (other_pages)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--model", default=None, help="a model trained by this benchmark before: score it, do not train")
    ap.add_argument("train", nargs="*", help="after --: options for the training, as scratchdae train takes them")
    args = ap.parse_args()
    if args.model:
        path, train_s = args.model, None
    else:
        out = args.out or new_run_dir("runs/bench-documents")
        t = time.perf_counter()
        r = train_cleaner(out=out, fonts="serif,sans", backgrounds="coffee,folded,wrinkled", quiet=True,
                  **train_options(args.train))
        train_s = time.perf_counter() - t
        path = f"{out}/model.npz"
        print(f"trained {len(r.history)} epochs in {train_s:.0f} s ({r.stopped}); model {path}")
    cleaner = load_cleaner(path)
    others = {"first stage alone": cleaner.first_stage()} if len(cleaner.stages) > 1 else None
    print(f"{cleaner!r}: {path}")
    everywhere = second_stage_everywhere(cleaner)
    pairs, _ = generated_pages(args.pages, 12345, "test", fonts="mono", backgrounds="watermark")
    scores = score_pages(pairs, cleaner, others={**(others or {}), **({"second stage on every window": everywhere}
                                                                       if everywhere else {})})
    print(f"{args.pages} held-out pages (mono font, watermark paper):")
    for name, v in scores["rmse"].items():
        print(f"  {name:<32} RMSE {v:.4f}")
    page = make_page([1, 2], height=420).noisy / np.float32(255)
    times = page_seconds({"model": cleaner, "second stage on every window": everywhere} if everywhere
                         else {"model": cleaner}, page)
    for name, t in times.items():
        print(f"cleaning one 540x420 page, {name}: median {np.median(t):.2f} s, best {min(t):.2f} s ({len(t)} runs)")
    if everywhere:  # the runs were interleaved: each pair saw the same load
        ratio = np.median(np.array(times["model"]) / np.array(times["second stage on every window"]))
        print(f"  keeping the first stage's paper (--keep-paper {cleaner.stages[1].spec.keep_paper}) takes "
              f"{ratio:.2f} of the time (median of {len(times['model'])} paired ratios)")
    pages = make_pages(args.group_pages, 54321, "test")
    pairs = [p.floats() for p in pages]
    groups = score_pages(pairs, cleaner, meta=[p.meta for p in pages], near_marks=[p.marks for p in pages], others=others)

    def scores_of(s):  # one group's or one set of pixels' RMSE, method by method
        first = f"  first stage {s['first stage alone']:.4f}" if others else ""
        return (f"noisy {s['noisy page']:.4f}  median background {s['median background subtraction']:.4f}{first}  "
                f"model {s['model']:.4f}")

    print(f"{args.group_pages} pages of every family, all pixels:" + "".join(
        f"  {name} {v:.4f}" for name, v in groups["rmse"].items()))
    seen = {"font_family": ("serif", "sans"), "background": ("coffee", "folded", "wrinkled")}
    for group, values in groups["by"].items():
        print(f"{args.group_pages} pages of every family, RMSE by {GROUPS[group]} (* held out of training):")
        for value, s in values.items():
            mark = "*" if group in seen and value not in seen[group] else " "
            print(f"  {value + mark:<12} {s['pages']:>3} pages  {scores_of(s)}")
    for where, s in groups["marks"].items():
        print(f"  {where:<12} {s['pixels']:>10,} pixels  {scores_of(s)}")
    made = other_pages(args.other_pages, 12345)
    other = score_pages([p.floats() for p in made], cleaner, near_marks=[p.marks for p in made], others=others)
    print(f"{args.other_pages} pages of the second generator, never used in training:")
    for name, v in other["rmse"].items():
        print(f"  {name:<32} RMSE {v:.4f}")
    for where, s in other["marks"].items():
        print(f"  {where:<12} {s['pixels']:>10,} pixels  {scores_of(s)}")
    print(json.dumps({"train_seconds": train_s, "other_generator": other["rmse"], "rmse": scores["rmse"],
                      "page_seconds_median": float(np.median(times["model"])),
                      "all_families": groups["rmse"], "by": groups["by"], "marks": groups["marks"],
                      "other_marks": other["marks"]}))


if __name__ == "__main__":
    main()
