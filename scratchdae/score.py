r"""Checking the score claim on toy data, where the exact answers are known.

A DAE trained on unclipped Gaussian noise of level s learns

    r(x~) ~ E[x | x~]                              the centre of mass    (S1)
    (r(x) - x) / s^2 ~ grad log p_s(x)             the score             (S4)

(docs/derivations.md, section 9). On a toy data set (:mod:`scratchdae.toy`)
both right-hand sides are closed form, so we can measure how close a trained
model is, on points x~ drawn from p_s itself (x~ = x + s eps, x from the
data): an average over those points is an integral weighted by p_s, which
is where the field matters.

field_agreement    cosine, relative L2 error and norm ratio of a learned field against the exact one
score_report       all of it for a trained toy model: the field and the denoising error against the Bayes error
"""
import math
import numbers
from pathlib import Path
from typing import Any

import numpy as np

from .backend import Backend, to_host
from .checkpoint import load_model
from .corruption import Corruption, GaussianNoise, get_corruption
from .inference import reconstruct, score_field
from .losses import Loss
from .model import Autoencoder
from .toy import GaussianMixture


def field_agreement(learned: np.ndarray, exact: np.ndarray) -> dict[str, float]:
    r"""How well vectors ``learned`` (N, d) match ``exact`` (N, d), each row at a point drawn from p_s.

    Averages over points drawn from p_s are integrals weighted by p_s, so with
    <f, g> = E_{p_s}[f(x) . g(x)] and ||f||^2 = <f, f>:

    cosine       <learned, exact> / (||learned|| ||exact||): the cosine of the two fields as
                 vectors of L2(p_s), where a point counts by its density and its field's size
    mean_cosine  E_{p_s}[cos(learned(x), exact(x))]: every point counts alike, so the flat
                 middle of a mode, where the exact field is near 0, weighs as much as its flanks
    rel_l2       ||learned - exact|| / ||exact||
    norm_ratio   ||learned|| / ||exact||: 1 when the lengths agree on average
    """
    for a, label in ((learned, "learned"), (exact, "exact")):
        kind = getattr(np.asarray(a), "dtype", np.dtype("O")).kind
        if kind not in "fiu" or isinstance(a, (str, bytes)):
            raise TypeError(f"the {label} field must hold real numbers (N, d), got "
                            f"{'dtype ' + str(np.asarray(a).dtype) if kind != 'O' else type(a).__name__}. "
                            "Fix: pass the field as a float array (a complex field has no direction to compare).")
    learned, exact = np.asarray(learned, dtype=np.float64), np.asarray(exact, dtype=np.float64)
    if learned.shape != exact.shape or learned.ndim != 2:
        raise ValueError(f"learned and exact fields must both be (N, d), got {learned.shape} and {exact.shape}.")
    for a, label in ((learned, "learned"), (exact, "exact")):
        if not np.isfinite(a).all():
            raise ValueError(f"the {label} field holds NaN or inf at {int((~np.isfinite(a)).any(axis=1).sum())} of "
                             f"{len(a)} points; no agreement can be measured. Fix: check the model (a diverged "
                             "run gives NaN) or the points (far outside the data).")
    s_l = float(np.abs(learned).max()) if learned.size else 0.0
    s_e = float(np.abs(exact).max()) if exact.size else 0.0
    if s_e == 0.0:
        raise ValueError("the exact field is 0 at every point (or there are no points): the cosine and the relative "
                         "error are measured against its size. Fix: draw points where the data's density has a "
                         "slope, e.g. mixture.sample(n) + s * noise.")
    # every measure is a ratio: each field divided by its largest entry keeps the squares finite
    lu, eu = learned / (s_l or 1.0), exact / s_e  # N,d  unit-scaled
    ratio = s_l / s_e  # learned = ratio * lu * s_e
    dot = (lu * eu).sum(axis=1)  # N
    l2, e2 = (lu * lu).sum(axis=1), (eu * eu).sum(axis=1)  # N
    norms = np.sqrt(l2 * e2)  # N
    pointwise = np.where(norms > 0, dot / np.where(norms > 0, norms, 1.0), 0.0)  # N
    L, E = float(l2.sum()), float(e2.sum())
    c = max(ratio, 1.0)  # ||learned - exact|| / s_e = c ||(ratio / c) lu - eu / c||, each term at most 1 in size
    return {"cosine": float(dot.sum()) / math.sqrt(L * E) if L > 0 else 0.0,
            "mean_cosine": float(pointwise.mean()),
            "rel_l2": c * math.sqrt(float((((ratio / c) * lu - eu / c) ** 2).sum()) / E),
            "norm_ratio": ratio * math.sqrt(L / E)}


def noise_level(corruption: str | Corruption) -> float:
    """The s of an unclipped Gaussian corruption; anything else has no score link (S7)."""
    corruption = get_corruption(corruption)
    if not isinstance(corruption, GaussianNoise) or corruption.clip:
        raise ValueError(f"the score link (S3)-(S4) holds for unclipped Gaussian noise, and this model was trained "
                         f"with {corruption.spec()!r}: its r(x~) still estimates E[x | x~] (S1), but (r(x) - x)/s^2 "
                         "is not a score (S7). Fix: train with --noise gaussian:S.")
    return corruption.sigma


def load_toy_model(path: str | Path,
                   backend: str | Backend | None = None) -> tuple[Autoencoder, Loss, GaussianMixture, float]:
    """A model trained on ``toy:NAME`` with unclipped Gaussian noise: ``(model, loss, mixture, sigma)``."""
    from .toy import get_toy

    model, loss, header = load_model(path, backend)
    name = header.get("toy")
    if header.get("task") != "points" or not name:
        raise ValueError(f"score compares a model with the exact field of its toy data set, and {path} "
                         f"was trained on {header.get('dataset')!r}. Fix: train one with "
                         "--dataset toy:mixture8 (or toy:spiral) --noise gaussian:0.3.")
    return model, loss, get_toy(name), noise_level(header["corruption"])


def score_report(model: str | Path | Autoencoder, loss: Loss | None = None, mixture: GaussianMixture | None = None,
                 sigma: float | None = None, *, n: int = 20_000, seed: int = 0,
                 backend: str | Backend | None = None) -> dict[str, Any]:
    r"""The learned field and denoiser of a toy model against the exact ones.

    Parameters
    ----------
    model : path to a model.npz trained on ``toy:NAME``, or a model (then give ``loss``,
        ``mixture`` and ``sigma`` too)
    n : points drawn from p_s to average over
    seed : seed of those points

    Returns
    -------
    dict: the toy data set and s; ``field``: :func:`field_agreement` of (S4) against the exact
    score (TM2); ``denoising``: MSE per coordinate of the noisy input (s^2), of the model's r(x~),
    and of the exact posterior mean (the Bayes error, (TM3)); the model's ``excess`` over the
    Bayes error, and (S5)'s prediction of it from the score error, ``excess_from_score``. The two
    differ by ``cross_term``, zero in expectation, given with its standard error ``cross_term_se``.
    """
    for name, value, low in (("n", n, 100), ("seed", seed, 0)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
            why = " (the averages need enough points)" if name == "n" else ""
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}{why}. Fix: e.g. n=20000, seed=0.")
    n, seed = int(n), int(seed)
    if not hasattr(model, "forward"):
        given = {k: v for k, v in (("loss", loss), ("mixture", mixture), ("sigma", sigma)) if v is not None}
        if given:  # a file brings its own; a second value would be ignored or contradict it
            raise ValueError(f"{', '.join(given)} came with a model file ({model}), which records its own loss, toy "
                             "data set and noise level. Fix: leave them out, or load the model and pass the "
                             "object with all three.")
        model, loss, mixture, sigma = load_toy_model(model, backend)
    elif mixture is None or sigma is None or loss is None:
        raise ValueError("with a model object, give its loss, the toy mixture and the noise sigma too.")
    rng = np.random.default_rng([seed, 11])
    x = mixture.sample(n, seed=rng, dtype="float64")  # N,d  clean points
    x_tilde = x + sigma * rng.standard_normal(x.shape)  # N,d  (C1): x~ ~ p_s
    xt = model.backend.asarray(x_tilde, dtype=model.dtype)
    learned = to_host(score_field(model, loss, xt, sigma)).astype(np.float64)  # (S4)
    exact = mixture.score(x_tilde, sigma)  # (TM2)
    r = to_host(reconstruct(model, loss, xt)).astype(np.float64)  # N,d  r(x~)
    bayes = mixture.posterior_mean(x_tilde, sigma)  # (TM3)
    d = x.shape[1]
    mse_model = float(((r - x) ** 2).sum()) / (n * d)
    mse_bayes = float(((bayes - x) ** 2).sum()) / (n * d)
    # (S5) in two halves. First, by (S1): MSE(r) - Bayes = E||r - E[x|x~]||^2, because the cross term
    # 2 E[(r - E[x|x~]) . (E[x|x~] - x)] is 0 in expectation; on n points it is not exactly 0, so we give it
    # with its standard error. Second, by Tweedie (S3): E||r - E[x|x~]||^2 = s^4 E||psi - grad log p_s||^2.
    cross = 2 * ((r - bayes) * (bayes - x)).sum(axis=1) / d  # N
    from_score = sigma**4 * float(((learned - exact) ** 2).sum()) / (n * d)
    return {
        "toy": mixture.name, "sigma": sigma, "n_points": n, "seed": seed,
        "field": field_agreement(learned, exact),
        "denoising": {"mse_noisy": float(((x_tilde - x) ** 2).sum()) / (n * d), "mse_model": mse_model,
                      "mse_bayes": mse_bayes, "ratio_to_bayes": mse_model / mse_bayes,
                      "excess": mse_model - mse_bayes, "excess_from_score": from_score,
                      "cross_term": float(cross.mean()), "cross_term_se": float(cross.std() / math.sqrt(n))},
    }
