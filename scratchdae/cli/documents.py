r"""``scratchdae documents train|generate|evaluate|submit``: the dirty-documents application's commands."""
import argparse

from ..files import check_outputs, check_png_name
from .common import (add_backend, add_output, add_settings, count, log_for, path_arg, print_json, seed_arg, shown,
                     shown_defaults)
from .train import add_training_options, report


def register(sub: argparse._SubParsersAction) -> None:
    """Add the command group's parsers; their handlers are the ``run_*`` functions."""
    from ..documents import DocumentsConfig
    from ..run.config import TrainConfig


    p = sub.add_parser("documents", help="dirty documents: train a cleaner, generate pages, evaluate a model, write "
                                         "a submission")
    dsub = p.add_subparsers(dest="documents_command", required=True, metavar="{train,generate,evaluate,submit}")
    q = dsub.add_parser("train", help="train a page cleaner: two stacked stages by default",
                        description="Train a document cleaner on generated pages, or on a Kaggle folder "
                                    "(--data-dir with train/ and train_cleaned/). Defaults in parentheses.")
    add_settings(q, DocumentsConfig, shown_defaults(("", DocumentsConfig())))
    q.add_argument("--data-dir", type=path_arg, default=None,
                   help="a Kaggle dirty-documents folder (train/, train_cleaned/); default: generated pages")
    add_training_options(q, shown_defaults(("", TrainConfig(dataset="documents"))),
                         skip=("dataset", "data_dir", "max_train", "n_points"))
    q.set_defaults(func=run_train)
    q = dsub.add_parser("generate", help="write generated (noisy, clean) pages in Kaggle's layout")
    q.add_argument("--out", type=path_arg, required=True,
                   help="a new folder: train/, train_cleaned/, test/, manifest.json")
    q.add_argument("--pages", type=int, default=144, help="training pages, noisy and clean (144, as Kaggle)")
    q.add_argument("--test-pages", type=int, default=0, help="test pages, noisy only (0)")
    q.add_argument("--seed", type=seed_arg, default=0, help="seed of the pages: page i is drawn from (seed, i) (0)")
    add_generator(q)
    add_page_choices(q)
    add_output(q)
    q.set_defaults(func=run_generate)
    q = dsub.add_parser("evaluate", help="RMSE of a document model beside the baselines")
    q.add_argument("--model", type=path_arg, required=True,
                   help="a model.npz written by scratchdae documents train")
    q.add_argument("--data-dir", type=path_arg, help="a Kaggle-style folder (scores train/ against train_cleaned/); "
                                      "default: freshly generated pages")
    q.add_argument("--pages", type=int, default=None, help="generated pages to score (20)")
    q.add_argument("--seed", type=seed_arg, default=12345, help="seed of the generated pages (12345)")
    q.add_argument("--figure", type=path_arg, default=None,
                   help="write the three pages the model cleaned worst (noisy | cleaned | truth) to this PNG")
    q.add_argument("--overwrite", action="store_true", help="replace --figure if it exists")
    add_generator(q)
    q.add_argument("--ocr", action="store_true",
                   help="also read every page with tesseract and give each method's character and word error rates "
                        "(CER, WER) against the clean page's reading (needs tesseract: pip install 'scratchdae[ocr]')")
    add_page_choices(q)
    add_cleaning(q)
    add_output(q)
    add_backend(q)
    q.set_defaults(func=run_evaluate)
    q = dsub.add_parser("submit", help="clean test/ pages into Kaggle's submission CSV (streamed)")
    q.add_argument("--model", type=path_arg, required=True,
                   help="a model.npz written by scratchdae documents train")
    q.add_argument("--test-dir", type=path_arg, required=True, help="folder of noisy test pages named 1.png, 2.png, ...")
    q.add_argument("--csv", type=path_arg, help="the submission file to write (id,value); required")
    q.add_argument("--overwrite", action="store_true", help="replace the --csv file if it exists")
    add_cleaning(q)
    add_output(q)
    add_backend(q)
    q.set_defaults(func=run_submit)


def add_generator(p: argparse.ArgumentParser) -> None:
    """--generator: the main generator's pages, or the second generator's."""
    p.add_argument("--generator", choices=["main", "other"], default="main",
                   help="other: pages of a second generator, drawn differently and never used in training (main)")


def add_page_choices(p: argparse.ArgumentParser) -> None:
    """--fonts and --backgrounds: which generated pages."""
    from ..documents.config import FIELDS

    for name in ("fonts", "backgrounds"):
        p.add_argument(f"--{name}", default=None, help=FIELDS[name].metadata["help"])


def add_cleaning(p: argparse.ArgumentParser) -> None:
    """--stride and --keep-paper: how the model cleans a page, instead of the model file's own."""
    from ..documents.config import CLEANING

    g = p.add_argument_group("cleaning")
    for name, kw in CLEANING.items():
        g.add_argument(f"--{name.replace('_', '-')}", dest=name, default=None, **kw)


def run_train(args: argparse.Namespace) -> int:
    """``scratchdae documents train``: train a cleaner with the options given, print the files written."""
    from ..documents import train_cleaner
    from ..documents.config import FIELDS as DOCUMENTS
    from ..run.config import FIELDS

    settings = {k: v for k, v in vars(args).items() if (k in FIELDS or k in DOCUMENTS) and v is not None}
    if args.json:
        settings["quiet"] = True
    return report(train_cleaner(resume=args.resume, **settings), args)


def run_generate(args: argparse.Namespace) -> int:
    """``scratchdae documents generate``: write a folder of generated pages in Kaggle's layout."""
    from ..documents.generate import generate_folder

    if args.pages < 0 or args.test_pages < 0 or args.pages + args.test_pages == 0:
        raise ValueError(f"--pages and --test-pages must be at least 0, and not both 0; got --pages {args.pages} "
                         f"--test-pages {args.test_pages}. Fix: e.g. --pages 144.")
    if args.generator == "other" and (args.fonts or args.backgrounds):
        raise ValueError("--fonts and --backgrounds would be ignored here: the other generator draws its own fonts "
                         "and damage. Fix: drop them, or drop --generator other.")
    out = generate_folder(args.out, args.pages, args.seed, n_test=args.test_pages, fonts=_names(args.fonts, "fonts"),
                          backgrounds=_names(args.backgrounds, "backgrounds"), log=log_for(args),
                          generator=args.generator)
    if args.json:
        print_json({"out": str(out), "pages": args.pages, "test_pages": args.test_pages, "seed": args.seed,
                    "generator": args.generator})
    else:
        print(f"{count(args.pages, 'training page')} (train/, train_cleaned/) and "
              f"{count(args.test_pages, 'test page')} (test/) in {shown(out)}")
    return 0


def _names(text, what):
    from ..documents.generate import BACKGROUNDS, FONT_FAMILIES
    from ..documents.training import parse_families

    return parse_families(text, FONT_FAMILIES if what == "fonts" else BACKGROUNDS, what)


def run_evaluate(args: argparse.Namespace) -> int:
    """``scratchdae documents evaluate``: RMSE of a document model beside the baselines."""
    from ..documents.evaluate import evaluate_documents, files_read

    if args.data_dir:
        given = [o for o, v in (("--pages", args.pages), ("--fonts", args.fonts), ("--backgrounds", args.backgrounds))
                 if v]
        if given:
            raise ValueError(f"{', '.join(given)} would be ignored here: they choose generated pages, and --data-dir "
                             "scores the pages of that folder. Fix: drop one or the other.")
    if args.generator == "other":
        given = [o for o, v in (("--data-dir", args.data_dir), ("--fonts", args.fonts),
                               ("--backgrounds", args.backgrounds)) if v]
        if given:
            raise ValueError(f"{', '.join(given)} would be ignored here: the other generator draws its own fonts and "
                             "damage. Fix: drop them, or drop --generator other.")
    if args.figure is not None:
        if not args.figure.strip():
            raise ValueError("--figure is empty. Fix: --figure worst.png, or leave it out.")
        check_png_name(args.figure, "--figure")
        check_outputs([args.figure], files_read(args.model, args.data_dir), args.overwrite, "--figure")
    r = evaluate_documents(args.model, data_dir=args.data_dir, pages=20 if args.pages is None else args.pages,
                           seed=args.seed, fonts=args.fonts,
                           backgrounds=args.backgrounds, backend=args.backend,
                           log=log_for(args), figure=args.figure, generator=args.generator, stride=args.stride,
                           keep_paper=args.keep_paper, text_height=args.text_height,
                           light_on_dark=args.light_on_dark, tidy=args.tidy, ocr=args.ocr, overwrite=args.overwrite)
    if args.json:
        print_json(r)
        return 0
    print(f"{r['pages']} pages: {r['source']}")
    print("cleaned with " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in r["cleaning"].items()))
    ocr = r.get("ocr")
    print(f"{'method':<32} {'RMSE':>8}" + (f" {'CER':>7} {'WER':>7} {'WER, any order':>14}" if ocr else ""))
    rate = lambda v, width: f"{'-':>{width}}" if v is None else f"{v:>{width}.3f}"  # noqa: E731 (no text to read)
    for name, v in r["rmse"].items():
        print(f"{name:<32} {v:>8.4f}" + (f" {rate(ocr['cer'][name], 7)} {rate(ocr['wer'][name], 7)} "
                                         f"{rate(ocr['order_free_wer'][name], 14)}" if ocr else ""))
    if ocr:
        print(f"(CER and WER against tesseract's reading of the clean pages: {ocr['chars']:,} characters, "
              f"{ocr['words']:,} words; WER, any order: the words read, whatever their order)")
        shown = {c: m for c, m in _SHORT.items() if m in ocr["cer"]}
        print("\nCER page by page: " + " ".join(f"{c:>9}" for c in ("chars", *shown)))
        for i, page in enumerate(ocr["pages"]):
            print(f"  page {i + 1:<10} {page['chars']:>9} " + " ".join(rate(page[m]["cer"], 9)
                                                                      for m in shown.values()))
        if ocr["unread"]:
            print(f"  (pages {', '.join(str(i + 1) for i in ocr['unread'])}: tesseract reads no text on the clean "
                  "page, so they have no rate and are left out of the overall ones)")
    print(f"model: {r['seconds_per_page']:.2f} s per page on average, {r['max_seconds_per_page']:.2f} s at most")
    from ..documents.evaluate import GROUPS

    columns = {"noisy": "noisy page", "median bg": "median background subtraction",
               **({"stage 1": "first stage alone"} if "first stage alone" in r["rmse"] else {}), "model": "model"}
    for group, values in r.get("by", {}).items():
        print(f"\nRMSE by {GROUPS[group]}: {'pages':>5} " + " ".join(f"{c:>9}" for c in columns))
        for value, scores in values.items():
            print(f"  {value:<28} {scores['pages']:>5} " + " ".join(f"{scores[m]:>9.4f}" for m in columns.values()))
    if "marks" in r:
        print("\nRMSE near marks that are not text (where the generator drew stains' rims, creases, scribbles...) "
              "and elsewhere:")
        for where, scores in r["marks"].items():
            print(f"  {where:<12} {scores['pixels']:>10,} pixels  " + "  ".join(f"{c} {scores[m]:.4f}"
                                                                          for c, m in columns.items()))
    if "figure" in r:
        print(f"\nthe worst pages (noisy | cleaned | truth): {shown(r['figure'])}")
    return 0


_SHORT = {"noisy": "noisy page", "threshold": "global threshold", "median bg": "median background subtraction",
          "stage 1": "first stage alone", "model": "model"}  # column -> method, in the tables page by page


def run_submit(args: argparse.Namespace) -> int:
    """``scratchdae documents submit``: clean the test pages into Kaggle's submission CSV."""
    from ..documents.stacked import load_cleaner
    from ..documents.pages import page_files, write_submission

    if not args.csv or not args.csv.strip():
        raise ValueError("say where to write the submission. Fix: --csv submission.csv.")
    pages = page_files(args.test_dir)
    if not pages:
        raise ValueError(f"{args.test_dir} holds no images. Fix: pass the folder of noisy test pages (1.png, ...).")
    check_outputs([args.csv], [args.model, *pages], args.overwrite, "--csv")
    cleaner = load_cleaner(args.model, args.backend, stride=args.stride, keep_paper=args.keep_paper,
                           text_height=args.text_height, light_on_dark=args.light_on_dark, tidy=args.tidy)
    rows = write_submission(args.csv, pages, cleaner, log=log_for(args))
    if args.json:
        print_json({"csv": args.csv, "rows": rows, "pages": len(pages)})
    else:
        print(f"{shown(args.csv)}: {rows:,} rows for {count(len(pages), 'page')}")
    return 0


