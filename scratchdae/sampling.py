r"""Sampling with a DAE: the Markov chain of Bengio et al. (2013), and measures of what it draws.

A trained DAE defines a Markov chain: corrupt the current point, then draw
from the decoder's distribution given the code,

    x~_t ~ q(x~ | x_t),    x_{t+1} ~ p(x | h = E(x~_t))                  (MC1)

With the true p(x | x~) this would be Gibbs sampling on p(x) q(x~ | x), which
leaves the data distribution p(x) unchanged (MC2); Bengio et al. show that a
consistent estimate of p(x | x~) gives a chain whose stationary distribution
tends to p(x). Starting from noise, the chain walks to digits and from digit
to digit.

markov_chain     run (MC1) from a batch of starting points, keeping snapshots of the means
nearest_distances   each row's L2 distance to its nearest neighbour in a reference set
copy_test        nearer to the training digits than new digits are? (copies, blurred or not)
sample_quality   are the samples digits? copies of training digits? blurs?
class_switches   how often the chain moves from one digit to another (its mixing)
mixture_chain    the same chain on a toy mixture with its exact posterior (TM4): the chain a perfect DAE runs
mode_statistics  where a toy chain's points sit: spread within the modes, mass between them, each mode's share
"""
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .backend import Array, Backend, Rng, overflow_unwarned, to_host
from .corruption import Corruption
from .losses import Loss
from .model import Autoencoder
from .probe import LinearProbe
from .validation import as_int, check_array


def markov_chain(model: Autoencoder, loss: Loss, corrupt: Corruption, x0: Array, steps: int, rng: Rng, *,
                 keep: Iterable[int] | None = None, sample_decoder: bool = True) -> tuple[dict[int, np.ndarray], Array]:
    """Run the DAE chain (MC1) for ``steps`` steps from rows ``x0`` (N, D).

    Parameters
    ----------
    model, loss, corrupt : a trained model, its loss (the decoder's p(x | h)) and the corruption q
    x0 : array (N, D) on the model's backend and dtype: the starting points
    rng : generator of the model's backend
    keep : steps whose decoder means are returned (default: 10 evenly spaced, the last among them)
    sample_decoder : draw x_{t+1} from p(x | h) (True, the chain of (MC1)); False keeps the mean

    Returns
    -------
    (snapshots, x) : dict t -> host array (N, D) of the decoder mean r(x~_{t-1}) from which
    x_t was drawn (what one shows: the mean, not the noisy draw); and the final state x.
    """
    steps = as_int(steps)  # NumPy integers are fine
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}.")
    if not isinstance(sample_decoder, (bool, np.bool_)):
        raise TypeError(f"sample_decoder must be True or False, got {sample_decoder!r}.")
    _check_chain_inputs(model, loss, corrupt, x0, rng)
    if keep is None:
        keep = set(np.linspace(1, steps, min(10, steps)).round().astype(int).tolist())
    elif isinstance(keep, (str, bytes)) or not isinstance(keep, Iterable):
        raise TypeError(f"keep must be a list of steps, got {type(keep).__name__} {keep!r}. Fix: keep=[{steps}].")
    else:
        keep = {as_int(t) for t in keep}
    if not all(isinstance(t, int) and not isinstance(t, bool) and 1 <= t <= steps for t in keep):
        raise ValueError(f"keep must list steps from 1 to {steps}, got {sorted(keep, key=str)}.")
    snapshots, x = {}, x0
    with overflow_unwarned(model.backend.xp):  # the end state is checked instead
        for t in range(1, steps + 1):
            x_tilde = corrupt(x, rng)  # (MC1) x~_t ~ q(x~ | x_t)
            out = model.forward(x_tilde)[0]  # the decoder's parameters given h = E(x~_t)
            x = loss.sample(out, rng) if sample_decoder else loss.reconstruction(out)  # (MC1) x_{t+1} ~ p(x | h)
            if t in keep:
                snapshots[t] = to_host(loss.reconstruction(out))
    if not bool(model.backend.xp.isfinite(x).all()):  # a reduction, once: syncs the device
        raise ValueError(f"the chain's state overflowed to NaN or inf (x0's largest value "
                         f"{float(model.backend.xp.abs(x0).max()):.3g}). Fix: start from images in [0, 1], "
                         "e.g. uniform noise or test digits.")
    return snapshots, x


def _check_chain_inputs(model, loss, corrupt, x0, rng):
    """Clear errors for what markov_chain is given, before the first step."""
    if not isinstance(model, Autoencoder):
        raise TypeError(f"model must be an Autoencoder, got {type(model).__name__}. "
                        "Fix: model, loss, header = scratchdae.load_model('runs/first/model.npz').")
    if not isinstance(loss, Loss):
        raise TypeError(f"loss must be the model's Loss (its decoder p(x | h)), got {type(loss).__name__}. "
                        "Fix: pass the loss that load_model returns beside the model.")
    if not isinstance(corrupt, Corruption):
        raise TypeError(f"corrupt must be a Corruption, got {type(corrupt).__name__} {corrupt!r}. "
                        "Fix: scratchdae.get_corruption('gaussian:0.5'), or the model's own: "
                        "get_corruption(header['corruption']).")
    if not hasattr(rng, "normal") or not hasattr(rng, "random"):
        raise TypeError(f"rng must be a generator of the model's backend, got {type(rng).__name__} {rng!r}. "
                        "Fix: rng = model.backend.rng(0).")
    check_array(x0, "x0", ndim=2, dtype=model.dtype, n_features=model.config["n_in"])


def nearest_distances(x: np.ndarray, reference: np.ndarray, *, exclude_self: bool = False,
                      batch_size: int = 500) -> np.ndarray:
    """L2 distance from each row of x (N, D) to its nearest row of reference (M, D), host float64.

    ``exclude_self``: x is reference itself; a row's distance to itself does not count.
    """
    x, reference = np.asarray(x, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    ref_sq = (reference * reference).sum(axis=1)  # M
    out = np.empty(len(x))
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size]
        d2 = (xb * xb).sum(axis=1)[:, None] - 2 * xb @ reference.T + ref_sq[None, :]  # B,M  ||a - b||^2
        if exclude_self:
            d2[np.arange(len(xb)), np.arange(i, i + len(xb))] = np.inf
        out[i:i + batch_size] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
    return out


def grey_fraction(images: np.ndarray, ink: float = 0.1) -> float:
    """Of the pixels with ink (> ``ink``), the share that are grey (below 1 - ``ink``): blur raises it."""
    images = np.asarray(images)
    inked = images > ink
    return float((inked & (images < 1 - ink)).sum() / max(int(inked.sum()), 1))


def _entropy_bits(counts):
    """Entropy of a histogram in bits: log2(10) = 3.32 for ten equally common digits, 0 for one digit."""
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def _images(x: Any, name: str, width: int | None = None) -> np.ndarray:
    """Rows of images in [0, 1] on the host, as float64: what the sample measures compare."""
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise TypeError(f"{name} must be an array of images (N, D), got {type(x).__name__}. "
                        f"Fix: numpy.asarray({name}, dtype='float32').")
    x = to_host(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{name} must hold floats in [0, 1], got dtype {x.dtype}. Fix: {name}.astype('float32') "
                        "/ 255 for 8-bit images.")
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"{name} must be a non-empty (N, D) array of images, one per row, got shape {x.shape}. "
                         f"Fix: {name}.reshape(len({name}), -1).")
    if width is not None and x.shape[1] != width:
        raise ValueError(f"{name} has rows of {x.shape[1]} pixels, the samples {width}. Fix: compare images of "
                         "one size.")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} holds NaN or inf. Fix: drop those rows (a diverged model draws NaN).")
    lo, hi = float(x.min()), float(x.max())
    if lo < -0.5 or hi > 1.5:  # room for a decoder's draws around [0, 1], not for another scale
        raise ValueError(f"{name} must be images in [0, 1], got values from {lo:.3g} to {hi:.3g}. Fix: divide "
                         "8-bit images by 255.")
    return x.astype(np.float64)


def copy_test(x: np.ndarray, train: np.ndarray, test_ref: np.ndarray, held_out: np.ndarray,
              quantile: float = 0.05) -> dict[str, float]:
    """Are the rows of x copies of training digits, blurred or not? Nearer the training set than new digits are.

    For each row, r = log(distance to the nearest training digit / distance
    to the nearest digit of ``test_ref``), test digits the model never saw.
    A copy of a training digit, even a blurred one, has its source close by
    and so a low r; smoothing an image shortens both distances, so blur alone
    moves r less than it moves the distance itself. The same r of
    ``held_out`` (other test digits, new by definition) gives the reference:
    ``share`` is the share of rows whose r is below the ``quantile`` of the
    held-out digits' r: about ``quantile`` for new digits, near 1 for copies.
    ``log_ratio`` is the rows' median r, ``log_ratio_test`` the held-out digits'.
    """
    if isinstance(quantile, bool) or not isinstance(quantile, (int, float, np.floating)) or not 0 < quantile < 1:
        raise ValueError(f"quantile must be a number between 0 and 1, got {quantile!r}. Fix: quantile=0.05.")
    x = _images(x, "x")
    train, test_ref, held_out = (_images(a, label, x.shape[1]) for a, label in
                                 ((train, "train"), (test_ref, "test_ref"), (held_out, "held_out")))

    def r(rows):
        return np.log(np.maximum(nearest_distances(rows, train), 1e-12)
                      / np.maximum(nearest_distances(rows, test_ref), 1e-12))

    r_x, r_held = r(x), r(held_out)
    return {"share": float(np.mean(r_x < np.quantile(r_held, quantile))),
            "log_ratio": float(np.median(r_x)), "log_ratio_test": float(np.median(r_held))}


def sample_quality(samples: np.ndarray, train: np.ndarray, test: np.ndarray, classifier: LinearProbe | None = None,
                   confident: float = 0.9) -> dict[str, Any]:
    """Measures of chain samples (N, D) in [0, 1], each beside the same measure on real test digits.

    recognised      share of images the classifier (``predict_proba``) calls a digit with
                    probability >= ``confident``; ``classes``: how many of each digit it sees, and
                    their entropy in bits (3.32 when all ten are equally common): samples that
                    are all one confident digit score high on the first and low on the second
    nn_ratio        median distance to the nearest training digit, divided by the same for real
                    test digits: near 0 for copies of training digits, about 1 for new digits;
                    blur lowers it too (a smooth image is nearer to everything)
    copies          :func:`copy_test` with the first half of the test digits as its reference:
                    the share of samples nearer the training digits than 95% of the other half
                    of the test digits are (about 0.05 for new digits, near 1 for copies,
                    blurred or not); ``copies_test`` the same for the other half itself (0.05)
    grey_ratio      grey_fraction of the samples over that of test digits: well above 1 for
                    averages of two digits, and above 1 for any smooth output (a DAE's mean)
    """
    samples = np.clip(_images(samples, "samples"), 0, 1)  # a decoder's draws may stray just outside [0, 1]
    train, test = _images(train, "train", samples.shape[1]), _images(test, "test", samples.shape[1])
    if classifier is not None and not callable(getattr(classifier, "predict_proba", None)):
        raise TypeError(f"classifier must be a fitted LinearProbe (with predict_proba), got "
                        f"{type(classifier).__name__} {classifier!r}. Fix: LinearProbe().fit(x_train, y_train).")
    if len(test) < 20:
        raise ValueError(f"sample_quality needs at least 20 test digits (half of them are the copy test's "
                         f"reference), got {len(test)}.")
    d_sample = nearest_distances(samples, train)
    d_test = nearest_distances(test, train)
    half = len(test) // 2
    test_ref, held_out = test[:half], test[half:]
    result = {
        "n": int(len(samples)),
        "nn_distance_samples": float(np.median(d_sample)), "nn_distance_test": float(np.median(d_test)),
        # None where the reference is 0 (test digits that are training digits, or have no grey ink): no ratio
        "nn_ratio": float(np.median(d_sample) / np.median(d_test)) if np.median(d_test) > 0 else None,
        "copies": copy_test(samples, train, test_ref, held_out)["share"],
        "copies_test": copy_test(held_out, train, test_ref, held_out)["share"],
        "grey_samples": grey_fraction(samples), "grey_test": grey_fraction(test),
    }
    result["grey_ratio"] = result["grey_samples"] / result["grey_test"] if result["grey_test"] > 0 else None
    if classifier is not None:
        prob = to_host(classifier.predict_proba(samples.astype(np.float32)))  # N,K
        prob_test = to_host(classifier.predict_proba(np.asarray(test, dtype=np.float32)))
        classes = np.bincount(prob.argmax(axis=1), minlength=prob.shape[1])
        classes_test = np.bincount(prob_test.argmax(axis=1), minlength=prob.shape[1])
        result.update(recognised=float(np.mean(prob.max(axis=1) >= confident)),
                      recognised_test=float(np.mean(prob_test.max(axis=1) >= confident)),
                      classes=classes.tolist(), class_entropy_bits=_entropy_bits(classes),
                      class_entropy_bits_test=_entropy_bits(classes_test))
    return result


def class_switches(snapshots: dict[int, np.ndarray], classifier: LinearProbe) -> dict[str, Any]:
    """How the chain mixes: the classifier's digit at each kept step (MC1), and how often it changes.

    Returns ``switches``, the mean number of changes of class between consecutive kept
    snapshots per chain, and ``moved``, the share of chains whose class changed at least once.
    """
    steps = sorted(snapshots)
    labels = np.stack([to_host(classifier.predict(np.clip(snapshots[t], 0, 1).astype(np.float32))) for t in steps])
    changes = (labels[1:] != labels[:-1]).sum(axis=0)  # per chain
    return {"kept_steps": steps, "switches": float(changes.mean()), "moved": float(np.mean(changes > 0))}


def sample_report(model: str | Path | tuple, out: str | Path, *, steps: int = 100, chains: int = 10,
                  quality_chains: int = 300, dataset: str = "mnist-sample", data_dir: str | Path | None = None,
                  seed: int = 0, backend: str | Backend | None = None,
                  log: Callable[[str], None] | None = None, overwrite: bool = False) -> dict[str, Any]:
    """Run the DAE chain (MC1) of a digit model, draw it, and measure its samples.

    The two figures replace files of their names in ``out`` only with ``overwrite``.

    Parameters
    ----------
    model : path to a model.npz trained on images (or ``(model, loss, header)`` from load_model)
    out : folder for ``chain_noise.png`` and ``chain_digit.png``
    steps : chain steps; chains : rows in each figure
    quality_chains : chains run from noise whose last means :func:`sample_quality` measures (0: none)

    Returns
    -------
    dict with the settings, ``files`` name -> path, and ``quality`` (see :func:`sample_quality`),
    whose probe is a linear probe on the raw pixels of the training digits.
    """
    from .checkpoint import load_model
    from .corruption import get_corruption
    from .evaluate import require_images
    from .figures import chain_figure
    from .files import TEMP_PREFIX, check_folder, check_outputs, replace_all
    from .representation import labelled_digits

    log = log or (lambda *a: None)
    source = str(model) if not isinstance(model, tuple) else "the model"
    model, loss, header = load_model(model, backend) if not isinstance(model, tuple) else model
    require_images(header, "sample", source)
    steps, chains, quality_chains = as_int(steps), as_int(chains), as_int(quality_chains)  # NumPy ints are fine
    for name, value, lo, hi in (("steps", steps, 1, 100_000), ("chains", chains, 1, 100),
                                ("quality_chains", quality_chains, 0, 100_000)):
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            raise ValueError(f"{name} must be an integer from {lo} to {hi:,}, got {value!r}. "
                             f"Fix: --{name.replace('_', '-')} {max(lo, min(hi, 10))}.")
    if not str(out).strip():
        raise ValueError("out is empty. Fix: --out DIR, a folder for the chain figures.")
    check_folder(out)  # the chain figures go into a folder
    check_outputs([Path(out) / f"chain_{name}.png" for name in ("noise", "digit")],
                  [source] if source != "the model" else [], overwrite)
    shape = tuple(header["normalisation"]["image_shape"])
    corrupt = get_corruption(header["corruption"])
    be = model.backend
    x_tr, y_tr, x_te, y_te, data = labelled_digits(dataset, data_dir, log=log)
    if x_tr.shape[1] != model.config["n_in"]:
        raise ValueError(f"the model takes {model.config['n_in']} pixels, {data.name} has {x_tr.shape[1]}.")
    out = Path(out)
    files = {}
    rng = be.rng(seed)
    dtype = model.dtype  # the chains run in the model's dtype (float32, or float64 for a model saved so)
    starts = {"noise": be.asarray(np.random.default_rng([seed, 8]).random((chains, x_tr.shape[1]), dtype=np.float32)
                                  .astype(dtype, copy=False)),
              "digit": be.asarray(x_te[:chains].astype(dtype, copy=False))}
    drafts = []  # both figures are drawn under temporary names first, then appear together (or not at all)
    try:
        for name, x0 in starts.items():
            snaps, _ = markov_chain(model, loss, corrupt, x0, steps, rng)
            draft = out / f"{TEMP_PREFIX}{os.getpid()}-chain_{name}.png"
            drafts.append((draft, out / f"chain_{name}.png"))
            chain_figure(draft, to_host(x0), snaps, shape,
                         f"DAE chain (MC1) from {'noise' if name == 'noise' else 'test digits'}, "
                         f"{corrupt.spec()} corruption")
        replace_all(drafts)
    finally:
        for draft, _ in drafts:
            draft.unlink(missing_ok=True)
    files.update({f"chain_{name}": out / f"chain_{name}.png" for name in starts})
    result = {"model_noise": corrupt.spec(), "steps": steps, "chains": chains, "seed": seed, "files": files}
    if quality_chains:
        x0 = be.asarray(np.random.default_rng([seed, 9]).random((quality_chains, x_tr.shape[1]), dtype=np.float32)
                        .astype(dtype, copy=False))
        keep = sorted(set(np.linspace(steps / 10, steps, 10).round().astype(int).clip(1).tolist()))
        snaps, _ = markov_chain(model, loss, corrupt, x0, steps, rng, keep=keep)
        classifier = LinearProbe(seed=seed).fit(x_tr, y_tr)
        result["quality"] = sample_quality(snaps[steps], x_tr, x_te, classifier)
        result["quality"].update(chains=quality_chains, **class_switches(snaps, classifier))
    return result


def mixture_chain(mixture: Any, s: float, x0: np.ndarray, steps: int, seed: int | np.random.Generator = 0, *,
                  decoder_std: float | None = None) -> np.ndarray:
    """Run (MC1) on a toy mixture with the exact answers in place of a trained DAE; the final states (N, d).

    ``decoder_std`` None draws x_{t+1} from the exact p(x | x~) (TM4): the Gibbs chain of (MC2), whose
    stationary distribution is the data's. A number draws the exact posterior mean (TM3) plus Gaussian
    noise of that std instead: what a DAE with a fixed-sigma Gaussian decoder draws even when its mean
    is exact. Host float64, like the rest of the toy maths.
    """
    from .toy import _rng

    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}.")
    if decoder_std is not None and not (isinstance(decoder_std, (int, float)) and decoder_std >= 0):
        raise ValueError(f"decoder_std must be None (the exact posterior) or a std >= 0, got {decoder_std!r}.")
    rng, x = _rng(seed), np.array(x0, dtype=np.float64)
    for _ in range(steps):
        x_tilde = x + s * rng.standard_normal(x.shape)  # (MC1) x~_t ~ q(x~ | x_t), (C1)
        if decoder_std is None:
            x = mixture.posterior_sample(x_tilde, s, rng)  # (TM4) x_{t+1} ~ p(x | x~_t)
        else:
            x = mixture.posterior_mean(x_tilde, s) + decoder_std * rng.standard_normal(x.shape)  # (TM3) + noise
    return x


def mode_statistics(points: np.ndarray, mixture: Any, far: float = 4.0) -> dict[str, Any]:
    """Where points sit on a toy mixture, to compare a chain's samples with the data.

    Each point belongs to its nearest component (in units of that component's std). Returns
    ``within_std``, the spread per coordinate of the points about their component's mean, over the
    points within ``far`` stds of it (the data's: the components' std); ``between``, the share of
    points farther than ``far`` stds from every mean (for 2-D data with far = 4: exp(-8), 0.03%);
    ``occupancy``, each component's share of the points; and ``occupancy_error``, the largest
    difference between a share and its component's weight.
    """
    x = np.asarray(points, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != mixture.dim or not len(x):
        raise ValueError(f"points must have shape (N, {mixture.dim}) with N >= 1, got shape {x.shape}.")
    d2 = ((x[:, None, :] - mixture.means[None]) ** 2).sum(axis=2) / mixture.stds[None] ** 2  # N,K in std units
    k = d2.argmin(axis=1)
    near = d2[np.arange(len(x)), k] <= far**2
    sq = ((x - mixture.means[k]) ** 2).sum(axis=1)  # N
    shares = np.bincount(k, minlength=len(mixture.means)) / len(x)
    return {"within_std": float(np.sqrt(sq[near].mean() / mixture.dim)) if near.any() else float("nan"),
            "between": float(1 - near.mean()), "occupancy": shares.tolist(),
            "occupancy_error": float(np.abs(shares - mixture.weights).max())}
