r"""The ``scratchdae`` command line. Each subcommand calls the Python API of the
same name, so everything here can also be done from a notebook.

    scratchdae train [options]                      scratchdae.train.train
    scratchdae evaluate --model FILE (--images IDX | --dataset NAME | --data-dir DIR)
                                                    scratchdae.evaluate.evaluate
    scratchdae denoise --model FILE INPUT... --out DIR
                                                    scratchdae.evaluate.denoise
    scratchdae score --model FILE [--json]          scratchdae.score.score_report
    scratchdae probe --model FILE [--json]          scratchdae.representation.probe_report
    scratchdae sample --model FILE --out DIR        scratchdae.sampling.sample_report
    scratchdae documents generate|evaluate|submit   scratchdae.documents
    scratchdae gradcheck [--backend B]              scratchdae.gradient_check.run_all
    scratchdae info

Errors in the input (a bad flag value, a missing file, a wrong image size)
print one line saying what is wrong and how to fix it, and exit with status 2;
set SCRATCHDAE_DEBUG=1 to see the traceback instead.
"""
import argparse
import contextlib
import json
import math
import os
import signal
import sys
import threading

from . import __version__
from .backend import BACKEND_NAMES, ENV_VAR, BackendUnavailable, available_backends, get_backend
from .files import check_outputs


def _add_backend(p):
    p.add_argument("--backend", choices=BACKEND_NAMES, default=None,
                   help=f"array backend (default: ${ENV_VAR}, else numpy)")


def _labelled_dataset(args):
    """--dataset, or with only --data-dir the IDX files of that folder (None), else the bundled sample."""
    return args.dataset or (None if args.data_dir else "mnist-sample")


def _add_labelled_data(p, what):
    p.add_argument("--dataset", choices=["mnist-sample", "mnist", "fashion-mnist"], default=None,
                   help=f"{what} (mnist-sample; with only --data-dir: the IDX files in that folder)")
    p.add_argument("--data-dir", type=_path, default=None,
                   help="a folder of IDX files with labels, or where --dataset's are")


def _add_page_choices(p):
    p.add_argument("--fonts", default=None, help="font families of the generated pages: serif,sans,mono (all)")
    p.add_argument("--backgrounds", default=None,
                   help="background families of the generated pages: coffee,folded,watermark,wrinkled (all)")
    p.add_argument("--system-fonts", action="store_true",
                   help="draw pages with this machine's fonts too, not only matplotlib's (pages then differ "
                        "between machines)")


def _path(text: str) -> str:
    """An argparse type: a file or folder name, not empty (an unset shell variable gives '')."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; expected a file or folder name (an unset shell variable?)")
    return text


def _seed(text: str) -> int:
    """An argparse type: a seed, an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r} (e.g. --seed 0)")
    return value


def _sizes(text):
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        return tuple(int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected layer sizes like 1000 or 512,128, got {text!r}") from None


def _dataset(text):
    from .data import DATASETS
    from .toy import TOY_DATASETS

    names = [*DATASETS, "documents"] + [f"toy:{t}" for t in TOY_DATASETS]
    if text not in names:
        raise argparse.ArgumentTypeError(f"unknown data set {text!r}; expected one of: {', '.join(names)}")
    return text


def _finite(value):
    """JSON has no Infinity or NaN: they become null (a PSNR of a perfect match is infinite)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _print_json(r):
    print(json.dumps(_finite(r), default=str, allow_nan=False))


def _add_output(p, json=True):
    """--json and --quiet, the same on every command."""
    if json:
        p.add_argument("--json", action="store_true", help="print the results as one JSON object, and no progress")
    p.add_argument("--quiet", action="store_true", help="print only the results: no progress lines")


def _log(args):
    """Progress lines go to stderr, so that stdout holds only the results; none with --quiet or --json."""
    if getattr(args, "quiet", False) or getattr(args, "json", False):
        return lambda *a: None
    return lambda *a: print(*a, file=sys.stderr)


def _count(n, noun):
    """'1 page', '3 pages'."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def cmd_train(args: argparse.Namespace) -> int:
    """``scratchdae train``: train with the flags given, print the files written; 130 when interrupted."""
    from .train import TrainConfig, train

    fields = TrainConfig.__dataclass_fields__
    overrides = {k: v for k, v in vars(args).items() if k in fields and v is not None}
    if args.data_dir and not args.dataset:  # a Kaggle dirty-documents folder, or a plain folder of IDX files
        from .documents.pages import is_kaggle_folder
        overrides["dataset"] = "documents" if is_kaggle_folder(args.data_dir) else None
    if args.json:
        overrides["quiet"] = True
    result = train(resume=args.resume, **overrides)
    if args.json:
        best = min(result.history, key=lambda h: h["val_loss"]) if result.history else None
        _print_json({"out": str(result.out), "stopped": result.stopped, "epochs": len(result.history),
                     "best": best, "files": {k: str(v) for k, v in result.files.items()}})
    else:
        for name, path in result.files.items():
            print(f"{name:<12} {path}")
    if result.stopped != "interrupted":
        return 0
    return 128 + result.signal if result.signal else 130  # as a shell reports it: 130 SIGINT, 143 SIGTERM, 129 SIGHUP


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``scratchdae evaluate``: MSE, PSNR and NLL of the noisy and the denoised images, as a table or JSON."""
    from .evaluate import evaluate

    dataset = args.dataset
    if args.images and args.data_dir:
        raise ValueError("--images and --data-dir both say what to evaluate on. Fix: give one of them.")
    if dataset is None and args.data_dir is None and args.images is None:
        raise ValueError("say what to evaluate on. Fix: --images IDX_FILE, --dataset NAME or --data-dir DIR.")
    r = evaluate(args.model, images=args.images, dataset=dataset, data_dir=args.data_dir, noise=args.noise,
                 seed=args.seed, backend=args.backend, log=_log(args))
    if args.json:
        _print_json(r)
        return 0
    loss = ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in r["loss_config"].items()
                     if k != "name")
    print(f"{r['n_images']} images from {r['images']}, noise {r['noise']} (seed {r['seed']}), "
          f"loss {r['loss']}{f' ({loss})' if loss else ''}; its constant part: {r['nll_constant']:.1f} nats/image")
    print(f"{'':<10} {'MSE':>9} {'PSNR (dB)':>10} {'NLL (nats/image)':>17}")
    for k in ("noisy", "denoised"):
        nll = r[f"nll_{k}"]
        print(f"{k:<10} {r[f'mse_{k}']:>9.5f} {r[f'psnr_{k}']:>10.2f} {'-' if nll is None else f'{nll:.2f}':>17}")
    return 0


def cmd_denoise(args: argparse.Namespace) -> int:
    """``scratchdae denoise``: write the denoised PNGs and print their paths."""
    from .evaluate import denoise

    paths = denoise(args.model, args.inputs, args.out, backend=args.backend, overwrite=args.overwrite)
    if args.json:
        _print_json({"model": args.model, "outputs": [str(p) for p in paths]})
    else:
        for path in paths:
            print(os.fsencode(path).decode(errors="replace"))  # a name that is not UTF-8 still prints
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    """``scratchdae score``: a toy model's score field and denoiser against the exact ones (S4, TM2, TM3)."""
    from .score import load_toy_model, score_report

    if not 100 <= args.points <= 10_000_000:
        raise ValueError(f"--points must be from 100 to 10,000,000 (the averages need enough points), "
                         f"got {args.points}.")
    if args.figure is not None:
        if not args.figure.strip():
            raise ValueError("--figure is empty. Fix: --figure field.png, or leave it out.")
        check_outputs([args.figure], [args.model], args.overwrite, "--figure")
    model, loss, mixture, sigma = load_toy_model(args.model, args.backend)  # read once, for the report and figure
    r = score_report(model, loss, mixture, sigma, n=args.points, seed=args.seed)
    if args.figure:
        from .corruption import GaussianNoise
        from .figures import field_figure

        r["figure"] = str(field_figure(args.figure, model, loss, GaussianNoise(sigma),
                                       mixture.sample(2000, seed=args.seed), mixture=mixture))
    if args.json:
        _print_json(r)
        return 0
    f, d = r["field"], r["denoising"]
    print(f"toy:{r['toy']}, noise s = {r['sigma']:g}; {r['n_points']:,} points x~ drawn from p_s (seed {r['seed']})")
    print("score field (r(x) - x)/s^2 against the exact grad log p_s:")
    print(f"  cosine (p_s-weighted) {f['cosine']:.4f}   relative L2 error {f['rel_l2']:.4f}   "
          f"norm ratio {f['norm_ratio']:.4f}")
    print("denoising, MSE per coordinate:")
    print(f"  noisy input {d['mse_noisy']:.5f}   model {d['mse_model']:.5f}   Bayes (exact E[x|x~]) "
          f"{d['mse_bayes']:.5f}   model / Bayes {d['ratio_to_bayes']:.4f}")
    if "figure" in r:
        print(f"figure      {r['figure']}")
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    """``scratchdae probe``: linear-probe accuracy of the code, the pixels and a random net; McNemar's test (MN1)."""
    from .representation import probe_report

    models = {}
    for item in args.compare or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"--compare takes NAME=MODEL_FILE, got {item!r}. "
                             "Fix: --compare plain=runs/plain/model.npz.")
        if name in models:
            raise ValueError(f"--compare names {name!r} twice. Fix: one name per model.")
        models[name] = path
    dataset = _labelled_dataset(args)
    log = _log(args)
    r = probe_report(args.model, models=models, dataset=dataset, data_dir=args.data_dir,
                     max_train=args.max_train, seed=args.seed, backend=args.backend, log=log)
    if args.json:
        _print_json(r)
        return 0
    print(f"linear probe (softmax regression) on {r['n_train']:,} training digits of {r['dataset']}, "
          f"tested on {r['n_test']:,}")
    print(f"{'features':<12} {'size':>6} {'test accuracy':>14} {'L2 lam':>8}")
    for name, acc in r["accuracy"].items():
        print(f"{name:<12} {r['features'][name]:>6} {acc:>14.4f} {r['lam'][name]:>8g}")
    print("McNemar's exact test, on the same test digits (b: first right, second wrong; c: the reverse):")
    for pair, m in r["mcnemar"].items():
        print(f"  {pair:<24} b={m['b']:<4} c={m['c']:<4} p={m['p']:.3g}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    """``scratchdae sample``: draw the DAE Markov chain (MC1), print the sample measures and the files."""
    from .sampling import sample_report

    dataset = _labelled_dataset(args)
    r = sample_report(args.model, args.out, steps=args.steps, chains=args.chains, quality_chains=args.quality_chains,
                      dataset=dataset, data_dir=args.data_dir, seed=args.seed, backend=args.backend,
                      log=_log(args), overwrite=args.overwrite)
    if args.json:
        _print_json(r)
        return 0
    print(f"DAE Markov chain: {r['steps']} steps of corrupt ({r['model_noise']}) then sample p(x | h)")
    q = r.get("quality")
    if q:
        print(f"{q['chains']} chains from noise, their last images against {'real test digits':}:")
        print(f"{'':<28} {'samples':>8} {'test digits':>12}")
        print(f"{'recognised by the probe':<28} {q['recognised']:>8.3f} {q['recognised_test']:>12.3f}")
        print(f"{'distance to nearest train':<28} {q['nn_distance_samples']:>8.3f} {q['nn_distance_test']:>12.3f}"
              f"   ratio {q['nn_ratio']:.3f} (copies: well below 1)")
        print(f"{'grey share of ink pixels':<28} {q['grey_samples']:>8.3f} {q['grey_test']:>12.3f}"
              f"   ratio {q['grey_ratio']:.3f} (blurs: well above 1)")
        print(f"{'entropy of the digit classes':<28} {q['class_entropy_bits']:>8.2f} "
              f"{q['class_entropy_bits_test']:>12.2f}   bits (all ten alike: 3.32)")
        print(f"digits the probe sees: {dict(enumerate(q['classes']))}")
        print(f"mixing: {q['switches']:.2f} changes of digit per chain over steps {q['kept_steps'][0]}-"
              f"{q['kept_steps'][-1]}; {q['moved']:.0%} of the chains changed digit at least once")
    for name, path in r["files"].items():
        print(f"{name:<12} {path}")
    return 0


def cmd_documents_generate(args: argparse.Namespace) -> int:
    """``scratchdae documents generate``: write a folder of generated pages in Kaggle's layout."""
    from .documents.generate import generate_folder

    if args.pages < 0 or args.test_pages < 0 or args.pages + args.test_pages == 0:
        raise ValueError(f"--pages and --test-pages must be at least 0, and not both 0; got --pages {args.pages} "
                         f"--test-pages {args.test_pages}. Fix: e.g. --pages 144.")
    out = generate_folder(args.out, args.pages, args.seed, n_test=args.test_pages, fonts=_names(args.fonts, "fonts"),
                          backgrounds=_names(args.backgrounds, "backgrounds"), system_fonts=args.system_fonts,
                          log=_log(args))
    if args.json:
        _print_json({"out": str(out), "pages": args.pages, "test_pages": args.test_pages, "seed": args.seed})
    else:
        print(f"{_count(args.pages, 'training page')} (train/, train_cleaned/) and "
              f"{_count(args.test_pages, 'test page')} (test/) in {out}")
    return 0


def _names(text, what):
    from .documents.generate import BACKGROUNDS, FONT_FAMILIES
    from .documents.training import parse_families

    return parse_families(text, FONT_FAMILIES if what == "fonts" else BACKGROUNDS, what)


def cmd_documents_evaluate(args: argparse.Namespace) -> int:
    """``scratchdae documents evaluate``: RMSE of a document model beside the baselines."""
    from .documents.evaluate import evaluate_documents

    if args.data_dir:
        given = [o for o, v in (("--pages", args.pages), ("--fonts", args.fonts), ("--backgrounds", args.backgrounds),
                               ("--system-fonts", args.system_fonts)) if v]
        if given:
            raise ValueError(f"{', '.join(given)} would be ignored here: they choose generated pages, and --data-dir "
                             "scores the pages of that folder. Fix: drop one or the other.")
    if args.generator == "other":
        given = [o for o, v in (("--data-dir", args.data_dir), ("--fonts", args.fonts),
                               ("--backgrounds", args.backgrounds), ("--system-fonts", args.system_fonts)) if v]
        if given:
            raise ValueError(f"{', '.join(given)} would be ignored here: the other generator draws its own fonts and "
                             "damage. Fix: drop them, or drop --generator other.")
    if args.figure is not None:
        if not args.figure.strip():
            raise ValueError("--figure is empty. Fix: --figure worst.png, or leave it out.")
        check_outputs([args.figure], [args.model], args.overwrite, "--figure")
    r = evaluate_documents(args.model, data_dir=args.data_dir, pages=20 if args.pages is None else args.pages,
                           seed=args.seed, fonts=args.fonts,
                           backgrounds=args.backgrounds, system_fonts=args.system_fonts, backend=args.backend,
                           log=_log(args), figure=args.figure, generator=args.generator)
    if args.json:
        _print_json(r)
        return 0
    print(f"{r['pages']} pages: {r['source']}")
    print(f"{'method':<32} {'RMSE':>8}")
    for name, v in r["rmse"].items():
        print(f"{name:<32} {v:>8.4f}")
    print(f"model: {r['seconds_per_page']:.2f} s per page on average, {r['max_seconds_per_page']:.2f} s at most")
    from .documents.evaluate import GROUPS

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
        print(f"\nthe worst pages (noisy | cleaned | truth): {r['figure']}")
    return 0


def cmd_documents_submit(args: argparse.Namespace) -> int:
    """``scratchdae documents submit``: clean the test pages into Kaggle's submission CSV."""
    from .documents.stacked import load_cleaner
    from .documents.pages import page_files, write_submission

    if not args.csv or not args.csv.strip():
        raise ValueError("say where to write the submission. Fix: --csv submission.csv.")
    pages = page_files(args.test_dir)
    if not pages:
        raise ValueError(f"{args.test_dir} holds no images. Fix: pass the folder of noisy test pages (1.png, ...).")
    check_outputs([args.csv], [args.model, *pages], args.overwrite, "--csv")
    rows = write_submission(args.csv, pages, load_cleaner(args.model, args.backend), log=_log(args))
    if args.json:
        _print_json({"csv": args.csv, "rows": rows, "pages": len(pages)})
    else:
        print(f"{args.csv}: {rows:,} rows for {_count(len(pages), 'page')}")
    return 0


def cmd_gradcheck(args: argparse.Namespace) -> int:
    """``scratchdae gradcheck``: every backward pass against central differences (GC1, GC2); 1 when one fails."""
    from .gradient_check import TOLERANCE, run_all

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
        _print_json({"backend": be.name, "tolerance": TOLERANCE, "checks": checks, "failed": failed})
    else:
        print(f"all {len(checks)} checks passed" if not failed else f"{failed} of {len(checks)} checks FAILED")
    return 1 if failed else 0


def cmd_info(args: argparse.Namespace) -> int:
    """``scratchdae info``: versions, the BLAS, the backends and the GPU."""
    import numpy as np

    info = {"scratchdae": __version__, "python": sys.version.split()[0], "numpy": np.__version__,
            "blas": _blas(), "matplotlib": _version("matplotlib"), "pillow": _version("PIL"),
            "cupy": _version("cupy"), "gpu": None, "backends": available_backends(),
            "default_backend": get_backend(None).name, "backend_from_env": bool(os.environ.get(ENV_VAR))}
    if "cupy" in info["backends"]:
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(0)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        info["gpu"] = {"name": name, "memory_gib": round(props["totalGlobalMem"] / 2**30, 1)}
    if args.json:
        _print_json(info)
        return 0
    missing = "not installed"
    print(f"scratchdae {info['scratchdae']}")
    print(f"python     {info['python']}")
    print(f"numpy      {info['numpy']}, BLAS: {info['blas'] or 'not reported'}")
    print(f"matplotlib {info['matplotlib'] or missing}")
    print(f"pillow     {info['pillow'] or missing}")
    if info["gpu"]:
        print(f"cupy       {info['cupy']}, GPU 0: {info['gpu']['name']}, {info['gpu']['memory_gib']} GiB")
    elif info["cupy"]:
        print(f"cupy       {info['cupy']}, but no usable GPU")
    else:
        print("cupy       not installed (pip install 'scratchdae[cuda12]' on a GPU machine)")
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


def build_parser() -> argparse.ArgumentParser:
    """The ``scratchdae`` parser: one subcommand per command, each with its ``func`` set to its ``cmd_*``."""
    parser = argparse.ArgumentParser(prog="scratchdae", description="Denoising autoencoders from scratch.",
                                     epilog="scratchdae COMMAND --help explains each command's options.")
    parser.add_argument("--version", action="version", version=f"scratchdae {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train a denoising autoencoder (default: the bundled MNIST sample)",
                       description="Train a DAE. Defaults in parentheses.")
    from .documents.stacked import FIRST_VIEW, KEEP_PAPER
    from .train import TrainConfig

    d, dd, dp = TrainConfig(), TrainConfig(dataset="documents"), TrainConfig(dataset="toy:mixture8")
    g = p.add_argument_group("data")
    g.add_argument("--dataset", type=_dataset, default=None,
                   help=f"mnist-sample, mnist, fashion-mnist, documents or toy:mixture8|spiral|rings (default "
                        f"{d.dataset}; with only --data-dir: the IDX files in that folder; documents: generated "
                        "pages, or a Kaggle folder with --data-dir; toy:NAME: 2-D points with an exact score)")
    g.add_argument("--data-dir", type=_path, default=None,
                   help="folder of IDX files, or where --dataset's files go, or a "
                                                    "Kaggle dirty-documents folder (train/, train_cleaned/)")
    g.add_argument("--val-fraction", type=float, default=None, help=f"held out for validation ({d.val_fraction})")
    g.add_argument("--max-train", type=int, default=None, help="use only the first N training images")
    g.add_argument("--n-points", type=int, default=None, help=f"toy data: points drawn for training ({dp.n_points})")
    g = p.add_argument_group("documents")
    g.add_argument("--pages", type=int, default=None, help=f"generated training pages ({dd.pages})")
    g.add_argument("--windows-per-page", type=int, default=None,
                   help=f"training windows sampled from each page ({dd.windows_per_page})")
    g.add_argument("--window", type=int, default=None, help=f"input window size, odd ({dd.window})")
    g.add_argument("--patch", type=int, default=None, help=f"clean patch predicted per window, odd ({dd.patch})")
    g.add_argument("--stride", type=int, default=None,
                   help=f"pixels between windows when cleaning, at most --patch ({dd.stride})")
    g.add_argument("--lines", type=int, default=None,
                   help="length, odd, of the mean along 8 lines through each window's centre, which tells a long "
                        f"mark that is not text from a letter's stroke; 0: none ({dd.lines})")
    g.add_argument("--mark-windows", type=float, default=None,
                   help="share of each generated page's training windows taken near marks that are not text "
                        f"(creases, rims), in [0, 0.5] ({dd.mark_windows}; 0 with --data-dir)")
    g.add_argument("--wide-paper", type=int, default=None,
                   help="odd size of a second, wider paper estimate, whose ratio each window also sees; 0: none "
                        f"({dd.wide_paper})")
    g.add_argument("--contrast", type=int, default=None,
                   help=f"odd size over which each window also sees the local contrast; 0: none ({dd.contrast})")
    g.add_argument("--stages", type=int, default=None,
                   help="1, or 2 for a stacked cleaner: a first stage (in OUT/first-stage), then a second that reads "
                        f"its cleaned pages, both saved in OUT/model.npz; --epochs and --max-seconds apply to each "
                        f"stage ({dd.stages})")
    g.add_argument("--first-stage", type=_path, default=None, metavar="MODEL",
                   help="train a second stage that reads this document model's cleaned pages beside the noisy ones "
                        "(a stacked cleaner, saved as one model file with its first stage); it trains on pages the "
                        "first stage did not")
    g.add_argument("--first-view", type=int, default=None,
                   help="second stage: spacing, odd, of its coarse 9x9 grid over the first stage's output "
                        f"({FIRST_VIEW}: a view {FIRST_VIEW * 9} pixels wide)")
    g.add_argument("--keep-paper", type=float, default=None,
                   help="second stage: where every pixel of the first stage's cleaned window is at least this "
                        "bright, keep the first stage's patch and do not run the second network there; 0: run it "
                        f"everywhere ({KEEP_PAPER})")
    g.add_argument("--fonts", default=None, help="font families of generated pages: serif,sans,mono (all)")
    g.add_argument("--backgrounds", default=None,
                   help="background families of generated pages: coffee,folded,watermark,wrinkled (all)")
    g.add_argument("--system-fonts", action="store_true", default=None,
                   help="draw pages with this machine's fonts too, not only matplotlib's (pages then differ "
                        "between machines)")
    g.add_argument("--variety", action="store_true", default=None,
                   help="draw the generated pages' text at any size (not only whole pixels), with heavier and "
                        "lighter strokes and ink that bled into the paper")
    g = p.add_argument_group("model")
    g.add_argument("--noise", default=None, help=f"corruption: gaussian:S[:clip], masking:NU, salt-pepper:NU, none "
                                                 f"({d.noise}; documents: {dd.noise}; toy: {dp.noise})")
    g.add_argument("--loss", default=None,
                   help="gaussian[:SIGMA] (SIGMA 1 when left out), gaussian-learned[:INIT_SIGMA], "
                        f"gaussian-hetero[:BETA], bernoulli, mse ({d.loss})")
    g.add_argument("--hidden", type=_sizes, default=None, help="encoder sizes, e.g. 1000 or 512,128 "
                                                              f"({','.join(map(str, d.hidden))}; documents: "
                                                              f"{','.join(map(str, dd.hidden))}; toy: "
                                                              f"{','.join(map(str, dp.hidden))})")
    g.add_argument("--decoder-hidden", type=_sizes, default=None,
                   help="decoder sizes between the code and the output, e.g. 128 or 512,1000, or none "
                        "(default: the encoder mirrored)")
    g.add_argument("--activation", default=None, help=f"hidden activation ({d.activation})")
    g.add_argument("--output-activation", default=None,
                   help="activation of the output: sigmoid, identity, ... (sigmoid; identity for bernoulli "
                        "logits and toy points)")
    g.add_argument("--tied", action="store_true", default=None, help="decoder weights = encoder weights transposed")
    g = p.add_argument_group("optimisation")
    g.add_argument("--optimizer", choices=["adam", "sgd"], default=None, help=f"the update rule ({d.optimizer})")
    g.add_argument("--lr", type=float, default=None,
                   help=f"learning rate ({d.lr:g}; documents: {dd.lr:g}; toy: {dp.lr:g})")
    g.add_argument("--momentum", type=float, default=None, help=f"SGD momentum ({d.momentum})")
    g.add_argument("--nesterov", action="store_true", default=None, help="SGD with Nesterov momentum")
    g.add_argument("--weight-decay", type=float, default=None, help=f"L2 weight decay ({d.weight_decay})")
    g.add_argument("--batch-size", type=int, default=None,
                   help=f"examples per step ({d.batch_size}; documents: {dd.batch_size}; toy: {dp.batch_size})")
    g.add_argument("--epochs", type=int, default=None,
                   help=f"passes over the training data ({d.epochs}; documents: {dd.epochs}; toy: {dp.epochs})")
    g.add_argument("--lr-schedule", default=None,
                   help=f"constant, cosine or step:K:F ({d.lr_schedule}; documents and toy: {dd.lr_schedule})")
    g.add_argument("--patience", type=int, default=None,
                   help=f"early-stopping patience, 0 = off ({d.patience}; documents and toy: {dd.patience})")
    g.add_argument("--max-seconds", type=float, default=None, help="stop after the epoch that crosses this budget")
    g = p.add_argument_group("running")
    g.add_argument("--out", type=_path, default=None, help="output folder (default: a new folder under ./runs)")
    g.add_argument("--seed", type=_seed, default=None,
                   help=f"seed of the initial weights, the example order, the noise and the split ({d.seed})")
    _add_backend(g)
    g.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    g.add_argument("--quiet", action="store_true", default=None, help="print only the files written: no progress")
    g.add_argument("--json", action="store_true",
                   help="print the outcome (best epoch, files) as one JSON object, and no progress")
    g.add_argument("--no-figures", dest="figures", action="store_false", default=None, help="skip the PNG figures")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="corrupt, denoise and score images with a trained model")
    p.add_argument("--model", type=_path, required=True, help="a model.npz written by scratchdae train")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--images", type=_path, help="an IDX file of images (raw or .gz)")
    src.add_argument("--dataset", choices=["mnist-sample", "mnist", "fashion-mnist"], help="its test split")
    p.add_argument("--data-dir", type=_path,
                   help="a folder of IDX files (its test split), or where --dataset's files are")
    p.add_argument("--noise", help="noise spec (default: the one the model was trained with)")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the corruption (0)")
    _add_output(p)
    _add_backend(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("denoise", help="denoise PNG images with a trained model")
    p.add_argument("--model", type=_path, required=True, help="a model.npz written by scratchdae train")
    p.add_argument("inputs", type=_path, nargs="+",
                   help="PNG images of the size the model was trained on (a document model: pages of any size)")
    p.add_argument("--out", type=_path, required=True, help="folder for the denoised PNGs (same names, ending in .png)")
    p.add_argument("--overwrite", action="store_true", help="replace files of those names already in --out")
    _add_output(p)
    _add_backend(p)
    p.set_defaults(func=cmd_denoise)

    p = sub.add_parser("score", help="a toy model's score field and denoiser against the exact ones",
                       description="For a model trained with --dataset toy:NAME --noise gaussian:S: compare "
                                   "(r(x) - x)/S^2 with the exact score of the smoothed data, and r(x~) with the "
                                   "exact posterior mean E[x | x~], on points drawn from p_S.")
    p.add_argument("--model", type=_path, required=True, help="a model.npz trained on toy:NAME with Gaussian noise")
    p.add_argument("--points", type=int, default=20_000, help="points drawn from p_s to average over (20000)")
    p.add_argument("--seed", type=_seed, default=0, help="seed of those points (0)")
    p.add_argument("--figure", type=_path, default=None, help="also write the learned and exact fields to this PNG")
    p.add_argument("--overwrite", action="store_true", help="replace the --figure file if it exists")
    _add_output(p)
    _add_backend(p)
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("probe", help="linear-probe accuracy of a model's code against raw pixels and a random net",
                       description="Fit softmax regression on the code h = E(x) of the labelled training digits, "
                                   "on the raw pixels, and on the code of a random network of the same shape; "
                                   "test on the test digits; compare each pair with McNemar's exact test.")
    p.add_argument("--model", type=_path, required=True, help="a model.npz trained on digits")
    p.add_argument("--compare", action="append", metavar="NAME=FILE",
                   help="another model's code to probe beside it (repeatable), e.g. plain=runs/plain/model.npz")
    _add_labelled_data(p, "labelled images")
    p.add_argument("--max-train", type=int, default=None, help="probe on only the first N training images")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the probe and the random network (0)")
    _add_output(p)
    _add_backend(p)
    p.set_defaults(func=cmd_probe)

    p = sub.add_parser("sample", help="draw digits with the DAE Markov chain (corrupt, then sample the decoder)",
                       description="Run the DAE Markov chain of a digit model (corrupt with the training noise, then "
                                   "draw from the decoder's p(x | h)) from noise and from test digits; draw the "
                                   "chains; measure the last images of many chains against real digits: recognised "
                                   "by a linear probe, distance to the nearest training digit (copies), grey share "
                                   "of ink (blur), and how often a chain changes digit (mixing).")
    p.add_argument("--model", type=_path, required=True, help="a model.npz trained on digits")
    p.add_argument("--out", type=_path, required=True, help="folder for chain_noise.png and chain_digit.png")
    p.add_argument("--overwrite", action="store_true", help="replace those figures if --out holds them")
    p.add_argument("--steps", type=int, default=100, help="steps of the chain (100)")
    p.add_argument("--chains", type=int, default=10, help="chains drawn in each figure (10)")
    p.add_argument("--quality-chains", type=int, default=300,
                   help="chains from noise whose last images are measured (300; 0 skips the measures)")
    _add_labelled_data(p, "the real images to compare with")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the starting noise and the chain (0)")
    _add_output(p)
    _add_backend(p)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("documents", help="dirty documents: generate pages, evaluate a model, write a submission")
    dsub = p.add_subparsers(dest="documents_command", required=True, metavar="{generate,evaluate,submit}")
    q = dsub.add_parser("generate", help="write generated (noisy, clean) pages in Kaggle's layout")
    q.add_argument("--out", type=_path, required=True,
                   help="a new folder: train/, train_cleaned/, test/, manifest.json")
    q.add_argument("--pages", type=int, default=144, help="training pages, noisy and clean (144, as Kaggle)")
    q.add_argument("--test-pages", type=int, default=0, help="test pages, noisy only (0)")
    q.add_argument("--seed", type=_seed, default=0, help="seed of the pages: page i is drawn from (seed, i) (0)")
    _add_page_choices(q)
    _add_output(q)
    q.set_defaults(func=cmd_documents_generate)
    q = dsub.add_parser("evaluate", help="RMSE of a document model beside the baselines")
    q.add_argument("--model", type=_path, required=True,
                   help="a model.npz written by scratchdae train --dataset documents")
    q.add_argument("--data-dir", type=_path, help="a Kaggle-style folder (scores train/ against train_cleaned/); "
                                      "default: freshly generated pages")
    q.add_argument("--pages", type=int, default=None, help="generated pages to score (20)")
    q.add_argument("--seed", type=_seed, default=12345, help="seed of the generated pages (12345)")
    q.add_argument("--figure", type=_path, default=None,
                   help="write the three pages the model cleaned worst (noisy | cleaned | truth) to this PNG")
    q.add_argument("--overwrite", action="store_true", help="replace --figure if it exists")
    q.add_argument("--generator", choices=["main", "other"], default="main",
                   help="other: pages of a second generator, drawn differently and never used in training (main)")
    _add_page_choices(q)
    _add_output(q)
    _add_backend(q)
    q.set_defaults(func=cmd_documents_evaluate)
    q = dsub.add_parser("submit", help="clean test/ pages into Kaggle's submission CSV (streamed)")
    q.add_argument("--model", type=_path, required=True,
                   help="a model.npz written by scratchdae train --dataset documents")
    q.add_argument("--test-dir", type=_path, required=True, help="folder of noisy test pages named 1.png, 2.png, ...")
    q.add_argument("--csv", type=_path, help="the submission file to write (id,value); required")
    q.add_argument("--overwrite", action="store_true", help="replace the --csv file if it exists")
    _add_output(q)
    _add_backend(q)
    q.set_defaults(func=cmd_documents_submit)

    p = sub.add_parser("gradcheck", help="check every backward pass against central differences")
    _add_output(p)
    _add_backend(p)
    p.set_defaults(func=cmd_gradcheck)
    p = sub.add_parser("info", help="versions (NumPy and its BLAS, matplotlib, Pillow, CuPy), backends and the GPU")
    p.add_argument("--json", action="store_true", help="print it as one JSON object")
    p.set_defaults(func=cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``scratchdae`` with ``argv`` (default: the command line); returns the exit status."""
    args = build_parser().parse_args(argv)
    main_thread = threading.current_thread() is threading.main_thread()
    # SIGTERM and SIGHUP (a closed terminal) like Ctrl-C: files being written are removed, not left half-written
    polite = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    old = {sig: signal.signal(sig, _terminated) for sig in polite} if main_thread else {}
    try:
        return _run(args)
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _run(args):
    from .train import TrainingDiverged

    command = " ".join(filter(None, [args.command, getattr(args, "documents_command", None)]))
    try:
        return args.func(args)
    except BrokenPipeError:  # the reader went away (| head): stop quietly, as a SIGPIPE would
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (ValueError, TypeError, BackendUnavailable, OSError, TrainingDiverged, MemoryError, OverflowError) as err:
        if os.environ.get("SCRATCHDAE_DEBUG", "").strip().lower() not in ("", "0", "false", "no", "off"):
            raise
        if isinstance(err, (MemoryError, OverflowError)) and "Fix:" not in str(err):
            err = f"{err or type(err).__name__}: a size asked for is too large for this machine. Fix: smaller numbers."
        print(f"scratchdae {command}: error: {err}", file=sys.stderr)
        return 3 if isinstance(err, TrainingDiverged) else 2
    except Terminated as stop:
        print(f"scratchdae {command}: terminated", file=sys.stderr)
        return 128 + stop.signum
    except KeyboardInterrupt:
        print(f"scratchdae {command}: interrupted", file=sys.stderr)
        return 130


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the program is so that cleanup runs as for Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _terminated(signum, frame):
    raise Terminated(signum)


if __name__ == "__main__":
    sys.exit(main())
