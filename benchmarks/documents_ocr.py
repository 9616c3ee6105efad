"""The document cleaner judged the way its users judge it: does OCR read the page?

Tesseract reads each page as it comes, as each method cleans it, and the
clean page; each reading is scored against the clean page's reading by the
character and word error rates (CER, WER; docs/derivations.md, (E1)-(E3)).
The sets of pages:

- held-out pages of the main generator (the generator the model trained on);
- pages of the second generator (other_pages: damage it never saw);
- main-generator pages enlarged 2.5x (the text size of a 300-dpi scan) and
  shrunk to 0.6x, scored against the clean page resized alike, beside the
  same pages at 1x;
- optionally real images (``--real``): skimage.data.page(), a real scanned
  page, against the hand transcription kept in tests/data/.

Each method's reading is scored by CER, WER and the order-free WER (E4:
the words read, in whatever order; a page of two columns read across them
costs it nothing). The methods: the noisy page, a global (Otsu) threshold, median background
subtraction, the model cleaning every page at its own size (``rescale``
off), the model keeping the rules and specks it drew (``tidy`` off), and the
model (pages resampled to its training text size when their text is much
smaller or larger; rules and lone specks made paper). Run by hand:

    python benchmarks/documents_ocr.py --model runs/docs/model.npz [--pages 12] [--scaled 6] [--real]
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np

from scratchdae.documents.evaluate import ocr_scores
from scratchdae.documents.filters import resize
from scratchdae.documents.ocr import read_texts, tesseract_available
from scratchdae.documents.other_pages import other_pages
from scratchdae.documents.pages import global_threshold, median_background_subtraction
from scratchdae.documents.stacked import load_cleaner
from scratchdae.documents.training import make_pages
from scratchdae.probe import mcnemar_exact

ROOT = Path(__file__).resolve().parents[1]


def resized(page, f):
    return np.clip(resize(page, round(page.shape[0] * f), round(page.shape[1] * f)), 0, 1)


def score_set(name, pairs, methods, log):
    """OCR (and RMSE, where the clean page has the page's size) of every method on (noisy, clean) pairs;
    the clean side may be a text (a transcription) instead of a page."""
    readings, references = {m: [] for m in methods}, []
    sse, pixels, seconds = dict.fromkeys(methods, 0.0), 0, {m: 0.0 for m in methods}
    for i, (noisy, clean) in enumerate(pairs):
        outs = {}
        for m, f in methods.items():
            t = time.perf_counter()
            outs[m] = f(noisy)
            seconds[m] += time.perf_counter() - t
        texts = read_texts(([] if isinstance(clean, str) else [clean]) + list(outs.values()))
        references.append(clean if isinstance(clean, str) else texts.pop(0))
        for m, text in zip(outs, texts):
            readings[m].append(text)
        if not isinstance(clean, str):
            pixels += clean.size
            for m, out in outs.items():
                sse[m] += float(np.sum((out.astype(np.float64) - clean) ** 2))
        log(f"  {name}: page {i + 1}/{len(pairs)}")
    r = ocr_scores(readings, references)
    if pixels:
        r["rmse"] = {m: float(np.sqrt(v / pixels)) for m, v in sse.items()}
    r["seconds_per_page"] = {m: v / len(pairs) for m, v in seconds.items()}
    return r


def print_set(name, r):
    print(f"\n{name}: {len(r['pages'])} pages, {r['chars']:,} characters of reference text")
    print(f"  {'method':<34} {'CER':>7} {'WER':>7} {'WER, any order':>14}" + (f" {'RMSE':>8}" if "rmse" in r else "")
          + f" {'s/page':>7}")
    rate = lambda v, w: f"{'-':>{w}}" if v is None else f"{v:>{w}.3f}"  # noqa: E731 (no reference text)
    for m in r["cer"]:
        print(f"  {m:<34} {rate(r['cer'][m], 7)} {rate(r['wer'][m], 7)} {rate(r['order_free_wer'][m], 14)}"
              + (f" {r['rmse'][m]:>8.4f}" if "rmse" in r else "") + f" {r['seconds_per_page'][m]:>7.2f}")
    short = {m: m[:9] for m in r["cer"]}
    print("  CER page by page: " + " ".join(f"{s:>9}" for s in short.values()))
    for i, page in enumerate(r["pages"]):
        print(f"    page {i + 1:<12}" + " ".join(rate(page[m]["cer"], 9) for m in short))
    worse = [i + 1 for i, p in enumerate(r["pages"]) if i not in r["unread"] and p["model"]["cer"] > p["noisy page"]["cer"]]
    print(f"  pages where the model reads worse than the noisy page: {worse or 'none'}")
    for other in ("model, rules and specks kept", "noisy page"):
        for k in ("cer", "order_free_wer"):
            lower, higher, p = paired(r, "model", other, k)
            print(f"  model against {other}, {k}: lower on {lower} pages, higher on {higher}, the same on "
                  f"{len(r['pages']) - len(r['unread']) - lower - higher} (two-sided sign test p = {p:.3f})")


def worst_figure(path, pairs, r, cleaner):
    """The three pages the model reads worst (highest CER), noisy | model | clean, each labelled with its CER."""
    from scratchdae.documents.figures import worst_pages_figure

    read = [i for i in range(len(pairs)) if i not in r["unread"]]
    worst = sorted(read, key=lambda i: -r["pages"][i]["model"]["cer"])[:3]
    rows = [(pairs[i][0], cleaner(pairs[i][0]), pairs[i][1],
             f"page {i + 1}, CER noisy {r['pages'][i]['noisy page']['cer']:.3f}, model "
             f"{r['pages'][i]['model']['cer']:.3f}") for i in worst]
    print(f"figure: {worst_pages_figure(path, rows)}")


def paired(r, a, b, k):
    """Pages where method a's rate k is lower than b's, higher, and the exact two-sided sign test's p-value of
    that split (ties left out): how likely a split at least as uneven is if neither method is better. The sign
    test is McNemar's exact test (MN1) with "a reads this page better" and "b does" as the two verdicts."""
    d = np.array([p[a][k] - p[b][k] for i, p in enumerate(r["pages"]) if i not in r["unread"]])
    test = mcnemar_exact(d < 0, d > 0)
    return test["b"], test["c"], test["p"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="a model.npz written by scratchdae documents train")
    ap.add_argument("--pages", type=int, default=12, help="held-out pages of each generator")
    ap.add_argument("--scaled", type=int, default=6, help="main-generator pages scored at 2.5x and 0.6x")
    ap.add_argument("--real", action="store_true", help="also skimage.data.page() (needs scikit-image)")
    ap.add_argument("--figures", type=Path, default=None,
                    help="a folder: the three pages of each set the model reads worst, noisy | model | clean")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    if not tesseract_available():
        raise SystemExit("needs tesseract: apt-get install tesseract-ocr; pip install pytesseract")
    log = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    cleaner = load_cleaner(args.model)
    methods = {"noisy page": lambda p: p, "global threshold": global_threshold,
               "median background subtraction": median_background_subtraction,
               "model at the page's own size": cleaner.cleaning(rescale=False),
               "model, rules and specks kept": cleaner.cleaning(tidy=False), "model": cleaner}
    print(f"{cleaner!r} {args.model}; training text heights {cleaner.text_heights}")
    main_pages = [p.floats() for p in make_pages(args.pages, 12345, "test")]
    sets = {"main generator": main_pages, "second generator": [p.floats() for p in other_pages(args.pages, 12345)]}
    some = main_pages[:args.scaled]
    sets["main generator, the same pages at 1x"] = some
    for f in (2.5, 0.6):
        sets[f"main generator enlarged {f}x" if f > 1 else f"main generator shrunk to {f}x"] = [
            (resized(n, f), resized(c, f)) for n, c in some]
    results = {name: score_set(name, pairs, methods, log) for name, pairs in sets.items()}
    if args.figures:
        for name, pairs in sets.items():
            worst_figure(args.figures / f"worst {name}.png".replace(" ", "-").replace(",", ""), pairs, results[name],
                         cleaner)
    if args.real:
        from skimage import data

        text = (ROOT / "tests" / "data" / "skimage_page.txt").read_text(encoding="utf-8")
        results["skimage.data.page()"] = score_set("skimage page", [(data.page() / np.float32(255), text)],
                                                   methods, log)
    for name, r in results.items():
        print_set(name, r)
    print(json.dumps({name: {k: r[k] for k in ("cer", "wer", "order_free_wer", "rmse", "seconds_per_page") if k in r}
                      | {f"page_{k}": [{m: p[m][k] for m in r["cer"]} for p in r["pages"]]
                         for k in ("cer", "order_free_wer")}
                      for name, r in results.items()}))


if __name__ == "__main__":
    main()
