r"""Training a document cleaner: one stage, or two stacked (the default), with the core's training loop.

A documents run is :func:`scratchdae.loop.train` on windows of pages. This
module splits a run's settings into the core's (TrainConfig: the network, the
optimizer, the folder) and its own (DocumentsConfig: pages, windows, stages),
gives the loop its rows (:func:`~scratchdae.documents.training.document_data`,
which also puts the documents settings into the run's files), and runs two
stages one after the other (PG2):

    OUT/first-stage/   the first stage's run: it cleans the noisy page
    OUT/               the second stage's run: it reads the noisy page and the
                       first stage's output; OUT/model.npz holds both stages
    OUT/stages.json    the settings of the whole run, until the second stage's
                       checkpoint holds them

A resume continues the first stage where it stopped, then trains the second;
``epochs`` given with it are the second stage's (the first keeps its own).
"""
import json
import os
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable

from ..checkpoint import CheckpointError, load_npz
from ..files import atomic_write, check_folder, make_folder
from ..loop import TrainResult, train
from ..run.config import RESUME_MAY_CHANGE, TrainConfig, refuse_changes
from ..run.folder import RunNotSaved, check_new_run, new_run_dir, run_files
from ..tasks import validation_count
from .config import FIELDS, FIRST_STAGE_FOLDER, DocumentsConfig, from_saved


def train_cleaner(config: DocumentsConfig | None = None, *, on_step: Callable | None = None,
                  **settings: Any) -> TrainResult:
    """Train a document cleaner; the Python face of ``scratchdae documents train``.

    ``config`` and the keyword arguments of its fields give the documents settings (``pages=96, stages=2``);
    every other keyword is the core's (``epochs``, ``hidden``, ``out``, ``data_dir`` for a Kaggle folder, ...,
    see TrainConfig), and ``resume=True`` continues the run in ``out``. Returns the core's TrainResult: with
    two stages, the second stage's, whose model.npz holds both.
    """
    resume = settings.pop("resume", False)
    given = {k: v for k, v in ((k, settings.pop(k)) for k in list(settings) if k in FIELDS) if v is not None}
    if settings.get("dataset", "documents") != "documents" or settings.get("task", "documents") != "documents":
        raise ValueError(f"a document cleaner trains on pages, and dataset={settings.get('dataset')!r} was given. "
                         "Fix: drop dataset; give a Kaggle folder as data_dir.")
    settings.update(dataset="documents")
    if config is not None and not isinstance(config, DocumentsConfig):
        raise TypeError(f"config must be a DocumentsConfig, got {type(config).__name__}. Fix: "
                        "train_cleaner(**settings), or train_cleaner(DocumentsConfig(...)).")
    if resume:
        return _resume(config, given, settings, on_step)
    generation = [f"--{k.replace('_', '-')}" for k in ("pages", "fonts", "backgrounds", "variety", "clutter",
                                                       "wide_sizes") if given.get(k)]
    if settings.get("data_dir") and generation:
        raise ValueError(f"{', '.join(generation)} would be ignored: they choose generated pages, and --data-dir "
                         "trains on the pages of that folder. Fix: drop one or the other.")
    docs = DocumentsConfig(**{**(asdict(config) if config else {}), **given}).on_folder(settings.get("data_dir"))
    _check_out_outside_data(settings.get("out"), settings.get("data_dir"))
    if docs.stages == 2 and not docs.first_stage:
        return _train_stacked(docs, settings, on_step)
    return train(data=_rows(docs), on_step=on_step, **settings)


def _check_out_outside_data(out: Any, data_dir: Any) -> None:
    """A run's folder may not lie in the folder of pages it trains on: its figures are images, which would replace
    pages or become pages of the next run."""
    from .pages import is_kaggle_folder

    if out is None or not is_kaggle_folder(data_dir):  # a folder that is not one is refused as such, later
        return
    data, where = Path(os.path.realpath(data_dir)), Path(os.path.realpath(out))
    if where == data or data in where.parents:
        raise ValueError(f"--out {out} lies inside --data-dir {data_dir}, the pages this run trains on; its files "
                         "(figures are images) would replace pages or add pages of their own. Fix: choose an --out "
                         "folder outside the data folder.")


def _rows(docs: DocumentsConfig) -> Callable:
    """What the core's loop calls for its rows: the windows of the pages ``docs`` chooses."""
    from .training import document_data

    return lambda cfg, log: document_data(cfg, docs, log)


def _resume(config: DocumentsConfig | None, given: dict[str, Any], settings: dict[str, Any],
            on_step: Callable | None) -> TrainResult:
    """Continue the run in ``settings["out"]``: its first stage and then its second, or the stage it is in."""
    if config is not None:
        raise ValueError("resume continues the saved run with its own settings; a config was given too. Fix: drop "
                         "it, or start a new run in another --out folder.")
    if not settings.get("out"):
        raise ValueError("resume continues the run in a folder: say which. Fix: --resume --out runs/NAME.")
    out = check_folder(settings["out"])
    if not os.path.lexists(out / "checkpoint.npz") and (out / FIRST_STAGE_FOLDER / "checkpoint.npz").exists():
        return _resume_stacked(out, given, settings, on_step)
    first = out / FIRST_STAGE_FOLDER
    if not os.path.lexists(out / "checkpoint.npz") and (out / "stages.json").is_file():  # stopped in stage 1
        there = os.path.lexists(first)
        raise ValueError(f"there is nothing to resume: {out} holds stages.json, of a two-stage run stopped in its "
                         f"first stage, and {first} {'holds no checkpoint.npz' if there else 'is missing'}. Fix: "
                         f"start again in a new --out folder, or delete {out / 'stages.json'}"
                         f"{f' and {first}' if there else ''} and run the same command without --resume.")
    docs = _saved_documents(out)
    if docs is None:  # nothing to resume, or a damaged checkpoint: the core's resume says which, and the fix
        return train(resume=True, on_step=on_step, **settings)
    refuse_changes(given, docs)
    return train(resume=True, data=_rows(docs), on_step=on_step, **settings)


def _saved_documents(out: Path) -> DocumentsConfig | None:
    """The documents settings of the run in ``out``, from its checkpoint (None where there is none to read). Runs of
    earlier versions kept them among the core's settings. The run's own first stage moves with its folder."""
    try:
        _, header = load_npz(out / "checkpoint.npz", kind="training-state", header_only=True)
    except (CheckpointError, OSError):
        return None
    saved = header.get("documents", header["config"])
    try:
        docs = from_saved({**header["config"], **saved}, str(out))
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{out / 'checkpoint.npz'}: its documents settings cannot be used ({err}). Fix: start "
                              "a new run in another --out folder.") from None
    then = Path(str(header["config"].get("out"))) / FIRST_STAGE_FOLDER / "model.npz"
    if docs.first_stage == str(then):  # two stages: the first stage moves with OUT
        docs.first_stage = str(out / FIRST_STAGE_FOLDER / "model.npz")
    return docs


def _train_stacked(docs: DocumentsConfig, settings: dict[str, Any], on_step: Callable | None) -> TrainResult:
    """Two stages: the first in OUT/first-stage, then the second in OUT, reading the first stage's cleaned pages;
    OUT/stages.json keeps the settings of the whole run until the second stage's checkpoint does."""
    cfg = TrainConfig(**settings)  # the core's settings, checked before anything trains
    out = check_folder(cfg.out) if cfg.out else new_run_dir()
    log = (lambda *a: None) if cfg.quiet else print
    first_out, stages_file = out / FIRST_STAGE_FOLDER, out / "stages.json"
    if (out / "model.npz").exists() and not (out / "checkpoint.npz").exists():
        raise ValueError(f"{out} already holds a model (model.npz) that a new run would replace. Fix: choose "
                         "another --out folder, or move that model away first.")
    for name in ("checkpoint.npz", f"{FIRST_STAGE_FOLDER}/checkpoint.npz", f"{FIRST_STAGE_FOLDER}/model.npz"):
        if (out / name).exists():
            raise ValueError(f"{out} already holds {name}, of a run this one would replace. Fix: choose "
                             "another --out folder, or --resume to continue that run.")
    if os.path.lexists(first_out) and not first_out.is_dir():
        raise ValueError(f"--out {out} holds a file named {FIRST_STAGE_FOLDER}, where a two-stage run trains its first "
                         "stage (a folder of that name). Fix: move that file away, or choose another --out folder.")
    check_new_run(out, (*run_files(cfg), "stages.json", f"{FIRST_STAGE_FOLDER}/history.jsonl"))
    _check_second_stage_data(cfg)  # before the first stage trains, not after
    made = not out.exists()
    make_folder(out)
    with atomic_write(stages_file, "w") as f:
        json.dump({"train": {**cfg.saved(), "out": str(out)}, "documents": docs.saved()}, f, indent=1)
    log(f"stage 1 of 2, in {first_out}:")
    try:
        first = train_cleaner(replace(docs, stages=1, keep_paper=None), on_step=on_step,
                              **{**settings, "out": str(first_out), "figures": False})
    except BaseException:  # nothing to resume yet: leave the folder as it was
        if not (first_out / "checkpoint.npz").exists():
            stages_file.unlink(missing_ok=True)
            for folder in (first_out, out if made else None):
                if folder is not None and folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()
        raise
    return _second_stage(first, docs, {**settings, "out": str(out)}, on_step, log)


def _second_stage(first: TrainResult, docs: DocumentsConfig, settings: dict[str, Any], on_step: Callable | None,
                  log: Callable) -> TrainResult:
    """After the first stage: the second, in OUT, reading the first stage's model in OUT/first-stage."""
    out = Path(settings["out"])
    if first.stopped == "interrupted":  # the run to resume is OUT, not its first stage's folder
        log(f"stopped in stage 1 of 2; the same command with --resume continues it, then trains stage 2 in {out}")
        return replace(first, out=out)
    log(f"stage 2 of 2, in {out}:")
    second = replace(docs, first_stage=str(out / FIRST_STAGE_FOLDER / "model.npz"))
    try:
        return train(data=_rows(second), on_step=on_step, **settings)
    except RunNotSaved as err:  # the first stage is kept whole: --resume trains the second
        raise RunNotSaved(err.cause, out, resumable=True) from None


def _resume_stacked(out: Path, given: dict[str, Any], settings: dict[str, Any],
                    on_step: Callable | None) -> TrainResult:
    """A two-stage run stopped in its first stage: finish it, with only the changes a resume allows, then train
    the second stage."""
    stages_file = out / "stages.json"
    try:
        saved = json.loads(stages_file.read_text())
        core, documents = (saved["train"], saved["documents"]) if "train" in saved else (saved, saved)
        cfg = TrainConfig.from_saved(core, out=str(out))
        docs = from_saved(documents, str(out))
    except (OSError, ValueError, TypeError, KeyError) as err:
        raise CheckpointError(f"{stages_file}, the settings of this two-stage run, cannot be read ({err}). Fix: "
                              "restore it, or start a new run in another --out folder.") from None
    refuse_changes(settings, cfg)
    refuse_changes(given, docs)
    allowed = {k: v for k, v in settings.items() if k in RESUME_MAY_CHANGE and k != "out"}
    # --epochs is the second stage's: the first keeps its own, as when the run stopped in the second
    first = train_cleaner(resume=True, out=str(out / FIRST_STAGE_FOLDER), on_step=on_step,
                          **{k: v for k, v in allowed.items() if k != "epochs"})
    kept = {k: v for k, v in cfg.saved().items() if k not in ("task", "out")}
    log = (lambda *a: None) if allowed.get("quiet", cfg.quiet) else print
    return _second_stage(first, docs, {**kept, **allowed, "out": str(out)}, on_step, log)


def _check_second_stage_data(cfg: TrainConfig) -> None:
    """What would stop the second stage on a folder, checked before the first trains: enough pages left once
    the first stage's training pages are left out (its validation pages, less those that hold one of its training
    pages under another name)."""
    if cfg.data_dir is None:
        return
    from .pages import kaggle_pairs

    n = len(kaggle_pairs(cfg.data_dir))
    left = validation_count(n, cfg.val_fraction)  # the first stage's validation pages
    if n < 4:
        raise ValueError(f"--stages 2 on {cfg.data_dir}: it has {n} pages, and two stages need at least 4 (a "
                         "training and a validation page each, on pages of their own). Fix: more pages, or "
                         "--stages 1.")
    if left < 2:
        raise ValueError(f"--stages 2 on {cfg.data_dir} ({n} pages): the second stage trains on the pages the "
                         f"first did not train on, its {left} validation page, and needs at least 2. Fix: "
                         f"--val-fraction {min(0.5, round(2.5 / n, 2))} (more pages left to the second stage), "
                         "more pages, or --first-stage MODEL with a model trained on another folder.")
    from .training import copies_of_first_stage_pages

    kept, copies = copies_of_first_stage_pages(cfg)
    if kept < 2:
        raise ValueError(f"--stages 2 on {cfg.data_dir}: the second stage trains on the pages the first does not, and "
                         f"train/{', train/'.join(copies)} hold{'s' if len(copies) == 1 else ''} the same page as one "
                         f"the first trains on, under another name, which leaves it {kept} page(s); it needs at least "
                         "2. Fix: remove the copies from train/ and train_cleaned/, or --stages 1.")
