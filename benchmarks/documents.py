"""The dirty-documents benchmark: held-out fonts and paper, baselines, speed.

Trains the document DAE with the defaults of ``scratchdae train --dataset
documents`` on generated pages of two font families (serif, sans) and three
background families (coffee, folded, wrinkled), then scores it on fresh pages
whose font family (monospace/typewriter) and background family (watermark)
it never saw, beside the baselines measured on the same pages, and times the
cleaning of one 540x420 page. Run by hand:

    python benchmarks/documents.py [--pages 20] [--out runs/bench-documents]
    python benchmarks/documents.py --model runs/bench-documents/model.npz   # score a trained model again

Then it scores pages of every font family and background family, seen in
training or not, and prints the RMSE per font family, per font size and per
background family, and near marks that are not text; and pages of the second
generator (scratchdae/documents/other_pages.py), drawn differently on purpose.
"""
import argparse
import json
import time

import numpy as np

from scratchdae.documents.evaluate import GROUPS, load_document_model, score_pages
from scratchdae.documents.generate import make_page
from scratchdae.documents.other_pages import other_pages
from scratchdae.documents.training import generated_pages, make_pages
from scratchdae.documents.windows import clean_page
from scratchdae.train import new_run_dir, train


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=20, help="held-out test pages")
    ap.add_argument("--group-pages", type=int, default=24, help="pages of all families, for the tables by group")
    ap.add_argument("--other-pages", type=int, default=20, help="pages of the second generator (other_pages)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--model", default=None, help="a model trained by this benchmark before: score it, do not train")
    args = ap.parse_args()
    if args.model:
        path, train_s = args.model, None
    else:
        out = args.out or new_run_dir("runs/bench-documents")
        t = time.perf_counter()
        r = train(out=out, dataset="documents", fonts="serif,sans", backgrounds="coffee,folded,wrinkled", quiet=True)
        train_s = time.perf_counter() - t
        path = f"{out}/model.npz"
        print(f"trained {len(r.history)} epochs in {train_s:.0f} s ({r.stopped}); model {path}")
    model, loss, spec = load_document_model(path)
    pairs, _ = generated_pages(args.pages, 12345, "test", fonts="mono", backgrounds="watermark")
    scores = score_pages(pairs, lambda p: clean_page(model, loss, p, spec))
    print(f"{args.pages} held-out pages (mono font, watermark paper):")
    for name, v in scores["rmse"].items():
        print(f"  {name:<32} RMSE {v:.4f}")
    page = make_page([1, 2], height=420).noisy / np.float32(255)
    times = []
    for _ in range(5):
        t = time.perf_counter()
        clean_page(model, loss, page, spec)
        times.append(time.perf_counter() - t)
    print(f"cleaning one 540x420 page: median {np.median(times):.2f} s, best {min(times):.2f} s (5 runs)")
    pages = make_pages(args.group_pages, 54321, "test")
    pairs = [p.floats() for p in pages]
    groups = score_pages(pairs, lambda p: clean_page(model, loss, p, spec), meta=[p.meta for p in pages],
                         lines=[p.lines for p in pages])
    seen = {"font_family": ("serif", "sans"), "background": ("coffee", "folded", "wrinkled")}
    for group, values in groups["by"].items():
        print(f"{args.group_pages} pages of every family, RMSE by {GROUPS[group]} (* held out of training):")
        for value, s in values.items():
            mark = "*" if group in seen and value not in seen[group] else " "
            print(f"  {value + mark:<12} {s['pages']:>3} pages  noisy {s['noisy page']:.4f}  median background "
                  f"{s['median background subtraction']:.4f}  model {s['model']:.4f}")
    for where, s in groups["marks"].items():
        print(f"  {where:<12} {s['pixels']:>10,} pixels  noisy {s['noisy page']:.4f}  median background "
              f"{s['median background subtraction']:.4f}  model {s['model']:.4f}")
    made = other_pages(args.other_pages, 12345)
    other = score_pages([p.floats() for p in made],
                        lambda p: clean_page(model, loss, p, spec), lines=[p.lines for p in made])
    print(f"{args.other_pages} pages of the second generator, never used in training:")
    for name, v in other["rmse"].items():
        print(f"  {name:<32} RMSE {v:.4f}")
    for where, s in other["marks"].items():
        print(f"  {where:<12} {s['pixels']:>10,} pixels  noisy {s['noisy page']:.4f}  median background "
              f"{s['median background subtraction']:.4f}  model {s['model']:.4f}")
    print(json.dumps({"train_seconds": train_s, "other_generator": other["rmse"], "rmse": scores["rmse"],
                      "page_seconds_median": float(np.median(times)),
                      "by": groups["by"], "marks": groups["marks"]}))


if __name__ == "__main__":
    main()
