r"""TrainConfig: every setting of a run, with its help text and its checks, written once.

``scratchdae train`` builds one command-line option from each field (the
field's ``help`` metadata is the option's help), and ``train(**settings)``
takes the same names. Settings left at None take the task's default
(:data:`scratchdae.tasks.TASK_DEFAULTS`): digits, low-dimensional points and
an application's data (documents) want different noise, sizes and batches.

Each limit is checked by the object that uses it (the optimizer its learning
rate, the schedule its spec); the config only checks what no object owns
(epochs, the split, the seed) and says which option to change.
"""
import math
import numbers
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..activations import ACTIVATIONS
from ..files import check_path_type
from ..model import layer_sizes
from ..optim import get_optimizer, learning_rate
from ..tasks import TASK_DEFAULTS, application, check_inputs, task_of
from ..validation import check_seed

MAX_POINTS = 10_000_000  # toy data sets: more points than this would not fit a class's machines


def setting(default: Any, help: str, group: str, option: bool = True, **cli: Any) -> Any:
    """A TrainConfig field: its default, its help (the command line's too), its group of options, whether the
    command line has an option for it, and how the command line parses it (``cli``: argparse keywords)."""
    return field(default=default, metadata={"help": help, "group": group, "option": option, "cli": cli})


@dataclass
class TrainConfig:
    """Every setting of a run; ``scratchdae train`` has one option for each."""

    # data
    dataset: str = setting("mnist-sample", "mnist-sample, mnist, fashion-mnist or toy:mixture8|spiral|rings (toy: "
                           "2-D points with an exact score); with only --data-dir: the IDX files in that folder",
                           "data", type="dataset")
    data_dir: str = setting(None, "a folder of IDX files, or where --dataset's files go", "data", metavar="DIR")
    task: str = setting(None, "images | points | an application's task; default: from the data set "
                        "(train(inputs=X): from X's width)", "data", option=False)
    n_points: int = setting(None, "toy data: points drawn for training", "data", type=int)
    val_fraction: float = setting(0.1, "share of the training data held out for validation", "data", type=float)
    max_train: int = setting(None, "use only the first N training images", "data", type=int)
    # the DAE
    noise: str = setting(None, "corruption: gaussian:S[:clip], masking:NU, salt-pepper:NU, none", "model")
    loss: str = setting("gaussian:0.1", "gaussian[:SIGMA] (SIGMA 1 when left out), gaussian-learned[:INIT_SIGMA], "
                        "gaussian-hetero[:BETA], bernoulli, mse; sigma 0.1 fixed is about the residual spread of a "
                        "trained model", "model")
    hidden: tuple = setting(None, "encoder sizes, e.g. 1000 or 512,128", "model", type="sizes")
    decoder_hidden: tuple = setting(None, "decoder sizes between the code and the output, e.g. 128 or 512,1000, or "
                                    "none; default: the encoder mirrored", "model", type="sizes")
    activation: str = setting(None, "hidden activation", "model")
    output_activation: str = setting(None, "activation of the output: sigmoid, identity, ...; default: what the loss needs, "
                                  "else identity for points and for data outside [0, 1], else sigmoid", "model")
    tied: bool = setting(False, "decoder weights = encoder weights transposed", "model")
    # optimisation
    optimizer: str = setting("adam", "the update rule", "optimisation", choices=["adam", "sgd"])
    lr: float = setting(None, "learning rate", "optimisation", type=float)
    momentum: float = setting(0.9, "SGD momentum", "optimisation", type=float)
    nesterov: bool = setting(False, "SGD with Nesterov momentum", "optimisation")
    weight_decay: float = setting(0.0, "L2 weight decay (coupled, as PyTorch's)", "optimisation", type=float)
    batch_size: int = setting(None, "examples per step", "optimisation", type=int)
    epochs: int = setting(None, "passes over the training data; with --resume, the epochs the run has done when it "
                          "ends (more than it has: it trains further)", "optimisation", type=int)
    lr_schedule: str = setting(None, "constant, cosine or step:K:F", "optimisation")
    patience: int = setting(None, "epochs without validation improvement before stopping; 0 = off", "optimisation",
                            type=int)
    max_seconds: float = setting(None, "stop after the epoch that crosses this wall-clock budget", "optimisation",
                                 type=float)
    # running
    seed: int = setting(0, "seed of the initial weights, the example order, the noise and the split", "running",
                        type="seed")
    backend: str = setting(None, "array backend (numpy or cupy)", "running", option=False)
    out: str = setting(None, "output folder; default: a new folder under ./runs", "running", type="path")
    quiet: bool = setting(False, "print only the files written: no progress", "running")
    figures: bool = setting(True, "draw the PNG figures at the end", "running", option=False)

    def __post_init__(self):
        self._normalise()
        natural = task_of(self.dataset)
        self.task = self.task or natural
        if self.task not in TASK_DEFAULTS:
            raise ValueError(f"unknown task {self.task!r}; expected one of {', '.join(TASK_DEFAULTS)}.")
        if self.dataset != "array" and self.task != natural:
            raise ValueError(f"data set {self.dataset!r} trains as task {natural!r}, got task={self.task!r}. "
                             "Fix: drop task; it follows from the data set.")
        for k, v in {"activation": "relu", **TASK_DEFAULTS[self.task]}.items():
            if k in FIELDS and getattr(self, k) is None:
                setattr(self, k, v)
        self._check_data()
        for name in ("activation", "output_activation"):
            if getattr(self, name) is not None and getattr(self, name) not in ACTIVATIONS:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; expected one of: {', '.join(ACTIVATIONS)}. "
                                 f"Fix: e.g. --{name.replace('_', '-')} identity.")
        for name in ("batch_size", "epochs"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}. Fix: --{name.replace('_', '-')} 10.")
        try:
            check_seed(self.seed)
        except ValueError as err:
            raise ValueError(str(err).replace("seed=0", "--seed 0")) from None
        if not isinstance(self.patience, int) or self.patience < 0:
            raise ValueError(f"patience must be an integer >= 0 (0 turns early stopping off), got {self.patience!r}.")
        if self.max_seconds is not None and not (isinstance(self.max_seconds, float) and
                                                 math.isfinite(self.max_seconds) and self.max_seconds > 0):
            raise ValueError(f"max_seconds must be a finite number of seconds > 0, got {self.max_seconds!r}. "
                             "Fix: e.g. --max-seconds 60, or leave it out.")
        self.build_optimizer()  # the optimizer judges its own settings (lr, momentum, weight decay)
        self._refuse_what_does_not_apply()
        try:
            learning_rate(1.0, 0, self.epochs, self.lr_schedule)  # a schedule that cannot work is refused now
        except ValueError as err:
            raise ValueError(f"{err} Fix: --lr-schedule cosine.") from None

    def _normalise(self) -> None:
        """Booleans are booleans, paths are text, NumPy numbers are Python numbers (the config is saved as JSON)."""
        for f in fields(self):  # True is 1 to Python: patience=True would stop after one epoch
            if f.type is int and isinstance(getattr(self, f.name), bool):
                raise ValueError(f"{f.name} must be an integer, got {getattr(self, f.name)!r} (True and False are not "
                                 f"numbers here). Fix: e.g. --{f.name.replace('_', '-')} {INT_EXAMPLES[f.name]}.")
        normalise_fields(self)
        for name in ("data_dir", "out"):  # a Path is fine; saved as text
            v = getattr(self, name)
            if v is not None:
                check_path_type(v, name, "runs/first" if name == "out" else "data/mnist")
            if isinstance(v, Path):
                setattr(self, name, str(v))
            if v is not None and not str(v).strip():
                raise ValueError(f"{name} is empty. Fix: --{name.replace('_', '-')} FOLDER, or leave it out.")
        for name in ("hidden", "decoder_hidden"):  # checked by the model that uses them, in the options' words
            if getattr(self, name) is not None:
                try:
                    setattr(self, name, layer_sizes(getattr(self, name), name))
                except ValueError as err:
                    raise ValueError(str(err).split(" Fix:")[0] + f" Fix: e.g. --{name.replace('_', '-')} "
                                     f"{'1000' if name == 'hidden' else 'none'} or 512,128.") from None

    def _check_data(self) -> None:
        """What says which data a run trains on, and how much of it."""
        if self.dataset == "mnist-sample" and self.data_dir is not None:
            raise ValueError(f"data_dir {self.data_dir!r} would be ignored: the bundled MNIST sample is not read "
                             "from a folder. Fix: drop --dataset to train on that folder's IDX files (dataset=None in "
                             "Python), or drop --data-dir.")
        if self.task == "points" and str(self.dataset).startswith("toy:") and self.max_train is not None:
            raise ValueError("max_train is for image data sets; a toy data set draws n_points. Fix: n_points=N.")
        if self.task == "points" and (not isinstance(self.n_points, int) or not 2 <= self.n_points <= MAX_POINTS):
            raise ValueError(f"n_points must be an integer from 2 to {MAX_POINTS:,}, got {self.n_points!r}. "
                             "Fix: --n-points 20000.")
        if self.task != "points" and self.n_points is not None:
            raise ValueError(f"n_points sets how many points a toy data set draws, and {self.dataset!r} is not one. "
                             "Fix: drop --n-points, or train on --dataset toy:NAME.")
        if not isinstance(self.val_fraction, float) or not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be a number in (0, 1), got {self.val_fraction!r}. Fix: e.g. 0.1.")
        if self.max_train is not None and (not isinstance(self.max_train, int) or self.max_train < 2):
            raise ValueError(f"max_train must be an integer of at least 2, got {self.max_train!r}. "
                             "Fix: e.g. --max-train 1000.")

    def _refuse_what_does_not_apply(self) -> None:
        """Options that would be ignored without a word are refused: the user meant something by them."""
        ignored, why = [], ""
        if self.optimizer != "sgd" and (self.nesterov or self.momentum != 0.9):
            ignored, why = ["--momentum/--nesterov"], f"for --optimizer sgd only; this run uses {self.optimizer}"
        if application(self.task) is not None and self.max_train is not None:
            ignored, why = ["--max-train"], f"{self.task} runs choose their own training data"
        if str(self.dataset).startswith("toy:") and self.data_dir is not None:
            ignored, why = ["--data-dir"], "a toy data set is drawn, not read from a folder"
        if ignored:
            raise ValueError(f"{', '.join(ignored)} would be ignored here ({why}). Fix: drop "
                             f"{'it' if len(ignored) == 1 else 'them'}, or choose the data set or optimizer meant.")

    def build_optimizer(self) -> Any:
        """The run's optimizer, which checks its own settings; its words become the options'."""
        kwargs = dict(lr=self.lr, weight_decay=self.weight_decay)
        if self.optimizer == "sgd":
            kwargs.update(momentum=self.momentum, nesterov=self.nesterov)
        try:
            return get_optimizer(self.optimizer, **kwargs)
        except (ValueError, TypeError) as err:
            text = str(err).replace("learning rate lr", "lr")
            for name in ("weight_decay", "momentum", "lr"):
                text = text.replace(f"Fix: pass e.g. {name}=", f"Fix: e.g. --{name.replace('_', '-')} ")
                text = text.replace(f"Fix: e.g. {name}=", f"Fix: e.g. --{name.replace('_', '-')} ")
            raise type(err)(text) from None

    @classmethod
    def from_saved(cls, saved: dict[str, Any], **overrides: Any) -> "TrainConfig":
        """The settings a checkpoint saved; an application's own settings, saved beside them by runs of
        earlier versions, are left to the application."""
        if not isinstance(saved, dict):
            raise TypeError(f"the saved settings must be an object, got {type(saved).__name__}")
        known = {k: v for k, v in saved.items() if k in FIELDS}
        unknown = sorted(set(saved) - set(FIELDS))
        app = application(saved.get("task"))
        if unknown and not (app is not None and set(unknown) <= set(app.settings) | set(app.removed)):
            raise TypeError(f"unknown settings {', '.join(unknown)}")
        return cls(**{**known, **overrides})

    def saved(self) -> dict[str, Any]:
        """The settings as JSON-able data, as a checkpoint keeps them."""
        return asdict(self)


def normalise_fields(settings: Any) -> None:
    """A settings dataclass's fields as its JSON file keeps them: a NumPy integer or float given for an int or
    float field becomes a Python one; a bool field must be True or False ("no" would be true)."""
    for f in fields(settings):
        v = getattr(settings, f.name)
        if f.type is bool and not isinstance(v, bool):
            raise TypeError(f"{f.name} must be True or False, got {v!r}.")
        if f.type is int and isinstance(v, numbers.Integral) and not isinstance(v, bool):
            setattr(settings, f.name, int(v))
        elif f.type is float and isinstance(v, numbers.Real) and not isinstance(v, bool):
            setattr(settings, f.name, float(v))


FIELDS = {f.name: f for f in fields(TrainConfig)}
INT_EXAMPLES = {"n_points": 20000, "max_train": 1000, "batch_size": 64, "epochs": 10, "patience": 5, "seed": 0}
RESUME_MAY_CHANGE = {"out", "epochs", "max_seconds", "quiet", "backend", "figures"}


def refuse_changes(given: dict[str, Any], saved: Any) -> None:
    """A resume continues a run with its own settings (TrainConfig's or an application's): refuse ``given``
    settings that differ from the ``saved`` ones, compared as the settings read them (``hidden=1000`` is
    ``(1000,)``), except those in RESUME_MAY_CHANGE. The same values again are fine."""
    try:
        now = type(saved)(**{**asdict(saved), **given})
        changed = sorted(k for k in given if k not in RESUME_MAY_CHANGE and getattr(now, k) != getattr(saved, k))
    except (TypeError, ValueError):  # the given settings do not even fit together with the saved ones
        changed = sorted(k for k in given if k not in RESUME_MAY_CHANGE and given[k] != getattr(saved, k))
        if not changed:
            raise
    if changed:
        raise ValueError(changed_on_resume(changed, saved))


def changed_on_resume(changed: list[str], saved: Any) -> str:
    """The refusal of a resume that would change settings a run cannot change midway."""
    return (f"resume continues the saved run with its own settings, but {', '.join(changed)} differs from the "
            f"saved {', '.join(f'{k}={getattr(saved, k)!r}' for k in changed)}. Only "
            f"{', '.join(sorted(RESUME_MAY_CHANGE))} may change on resume. Fix: drop those options, or start a new "
            "run in another --out folder.")


def loss_spec(loss: Any) -> str:
    """A loss object as the spec string that rebuilds it (``gaussian:0.1``)."""
    config = dict(loss.config())
    name = config.pop("name")
    args = [v for k, v in config.items() if k in ("sigma", "init_sigma", "beta")]
    if set(config) - {"sigma", "init_sigma", "beta"} - ({"min_sigma"} if config.get("min_sigma") == 1e-3 else set()):
        raise ValueError(f"the loss {loss!r} has settings a spec string cannot carry. Fix: pass loss='{name}:...'.")
    return f"{name}:{args[0]:g}" if args else name


def settle_inputs(inputs: Any, resume: bool, overrides: dict[str, Any]) -> Any:
    """``train(inputs=X)``: X checked, and the settings it implies put into ``overrides`` (the data set "array",
    the task from X's width, an identity output for values outside [0, 1]). Returns the checked X."""
    if inputs is None:
        if not resume and overrides.get("dataset") == "array":
            raise ValueError("dataset='array' is the data set of rows given as train(inputs=X), and no inputs were "
                             "given. Fix: train(inputs=X), or drop dataset to train on a named data set.")
        return None
    inputs = check_inputs(inputs)
    app = application(overrides.get("task"))
    if app is not None:
        raise ValueError(f"train(inputs=X) trains on the rows of X as points or images, and task={app.task!r} was "
                         f"given: {app.task} runs make their own rows, with their own command. Fix: drop task (X's "
                         f"width chooses points or images), or train with {app.command}.")
    clash = sorted(k for k in ("dataset", "data_dir", "max_train", "n_points") if overrides.get(k) is not None
                   and not (k == "dataset" and overrides[k] == "array"))
    if clash:
        raise ValueError(f"train(inputs=X) trains on X, and {', '.join(clash)} chooses other data. Fix: drop "
                         f"{', '.join(clash)}, or drop inputs to train on a named data set.")
    if not resume:
        overrides["dataset"] = "array"
        overrides.setdefault("task", task_of("array", inputs))
    return inputs


def settle(config: TrainConfig | None, resume: bool, overrides: dict[str, Any]) -> TrainConfig:
    """The run's settings from a config and keyword overrides (objects given for noise or loss as their specs).
    A resume starts from the folder alone: the saved settings are read with the checkpoint."""
    if resume and config is not None:
        raise ValueError("resume continues the saved run with its own settings; a config was given too. Fix: drop "
                         "it, or start a new run in another --out folder.")
    if config is not None and not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}. Fix: train(**settings) for a "
                        "dict of settings, or train(TrainConfig(...)).")
    if hasattr(overrides.get("noise"), "spec"):  # a corruption object: its spec is what the run saves
        overrides["noise"] = overrides["noise"].spec()
    if hasattr(overrides.get("loss"), "config"):  # a loss object, likewise
        overrides["loss"] = loss_spec(overrides["loss"])
    if "optimizer" in overrides and not isinstance(overrides["optimizer"], str):
        raise TypeError(f"optimizer must be a name (adam or sgd), got {type(overrides['optimizer']).__name__}. "
                        "Fix: train(optimizer='adam', lr=1e-3).")
    unknown = sorted(set(overrides) - set(FIELDS))
    if unknown:
        raise TypeError(f"train() got unknown settings {', '.join(unknown)}. Fix: see TrainConfig.")
    if resume:
        cfg = TrainConfig(**{k: overrides[k] for k in ("out", "quiet") if k in overrides})
        if not cfg.out:
            raise ValueError("resume continues the run in a folder: say which. Fix: --resume --out runs/NAME.")
        return cfg
    return TrainConfig(**{**(asdict(config) if config else {}), **overrides})


def output_activation(cfg: TrainConfig, loss: Any, targets: Any) -> str:
    """The output's activation, decided here alone: the one asked for; else the one the loss needs (identity for
    Bernoulli logits); else identity for points, and for targets outside [0, 1], which a sigmoid cannot reach;
    else sigmoid (pixels in [0, 1])."""
    if cfg.output_activation or loss.output_activation:
        return cfg.output_activation or loss.output_activation
    inside = float(targets.min()) >= 0 and float(targets.max()) <= 1
    return "sigmoid" if cfg.task != "points" and inside else "identity"


def check_callables(**given: Any) -> None:
    """Functions given to train (``on_step``, ``data``) must be callable: checked before the run starts, not at
    its first step."""
    for name, f in given.items():
        if f is not None and not callable(f):
            raise TypeError(f"{name} must be a function (or None), got {type(f).__name__} {f!r:.40}. Fix: e.g. "
                            f"{name}=lambda epoch, step, run: print(epoch, step, run.value), or leave it out."
                            if name == "on_step" else f"{name} must be a function (cfg, log) -> TaskData, or None, "
                            f"got {type(f).__name__}. Fix: leave it out.")


def diverged(cfg: TrainConfig, loss: Any, value: float, epoch: int, step: int, out: Path, largest: float) -> str:
    """Why a run stopped with a loss of NaN or inf at (epoch, step), and what to change: the data's scale when its
    largest magnitude is far beyond the usual (pixels in [0, 1], points within a few units), else the learning
    rate."""
    kept = (f"The last good state is in {out / 'checkpoint.npz'} (written after epoch {epoch})."
            if (out / "checkpoint.npz").exists() else "No checkpoint was written: it diverged in the first epoch.")
    where = f"the loss became {value} at epoch {epoch + 1}, step {step + 1}; stopped before the update. {kept}"
    again = f" in a new run{' in another --out folder' if 'last good' in kept else ''}"
    if largest > FAR_OUT:
        return (f"{where} The data reach {largest:.3g}, far outside the usual range (pixels in [0, 1], points within "
                "a few units), so the errors overflow whatever the learning rate. Fix: scale the data to about "
                f"[0, 1] (e.g. divide by {largest:.3g}){again}.")
    usual = TASK_DEFAULTS.get(cfg.task, {}).get("lr") or cfg.lr / 10
    learned = " or use a loss with a fixed sigma (--loss gaussian:0.1)," if loss.params or \
        loss.needs_variance_head else ""
    return (f"{where} Fix: lower the learning rate,{learned}{again} (--lr {cfg.lr:g} now; e.g. --lr "
            f"{min(usual, cfg.lr / 10):g}).")


FAR_OUT = 1e4  # data beyond this magnitude are far outside the range a DAE's settings are made for


def check_targets(cfg: TrainConfig, loss: Any, data: Any) -> None:
    """Refuse a loss or output that cannot reach the targets: a silent wrong answer otherwise."""
    if loss.output_activation and cfg.output_activation not in (None, loss.output_activation):
        raise ValueError(f"the {loss.name} loss takes the output as logits and applies its own sigmoid, so the output "
                         f"activation must be {loss.output_activation}, got --output-activation "
                         f"{cfg.output_activation}, which limits the logits and so the pixels (with sigmoid or relu "
                         "no pixel is below 0.5: none is black). Fix: drop --output-activation, or use another loss, "
                         "e.g. --loss gaussian:0.1.")
    lo, hi = float(data.targets.min()), float(data.targets.max())
    if lo >= 0 and hi <= 1:
        return
    if loss.name == "bernoulli":
        raise ValueError(f"the Bernoulli loss needs targets in [0, 1] (probabilities of a pixel being on), and these "
                         f"range from {lo:.3g} to {hi:.3g}. Fix: use --loss gaussian:0.1, or scale the data to [0, 1].")
    if output_activation(cfg, loss, data.targets) == "sigmoid":
        raise ValueError(f"a sigmoid output lies in (0, 1), and the targets range from {lo:.3g} to {hi:.3g}. "
                         "Fix: --output-activation identity, or scale the data to [0, 1].")
