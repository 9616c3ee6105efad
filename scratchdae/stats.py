r"""Testing a claim that rests on seeds: a contrast over seeds and test digits, and Holm's correction.

McNemar's test (MN1, :mod:`scratchdae.probe`) compares two fitted
classifiers on the same test digits. It conditions on the pair: train the
DAE again with another seed, draw another random twin, and its p-value moves
(for one DAE against six twins, from 0.006 to 0.16). A claim about a *kind*
of representation ("a DAE's code beats random features") must hold over the
seeds as well as over the digits, so we measure every representation with K
seeds on the same n test digits and test a contrast of them.

The data of one contrast: ``correct[j, k, i]`` (code j, seed k, digit i) is 1
where the probe is right, and the weights w_j (summing to 0) say what is
compared: (1, -1) for "A against B", centred noise levels for a trend. Then

    D_ki = sum_j w_j correct_jki,    estimate  dbar = mean_ki D_ki

and, with m_k = mean_i D_ki (seed means) and g_i = mean_k D_ki (digit means),

    SE^2 = var(m)/K + var(g)/n                                           (ST1)

    df = SE^4 / ( (var(m)/K)^2/(K - 1) + (var(g)/n)^2/(n - 1) )          (ST2)

    t = dbar / SE,   p = 2 P(T_df > |t|) = I_{df/(df + t^2)}(df/2, 1/2)    (ST3)

with var the sample variance (divisor K - 1, n - 1) and I the regularised
incomplete beta function. The first term of (ST1) is how much the contrast
moves from seed to seed, the second how much it would move on another test
set; (ST2) is Welch and Satterthwaite's degrees of freedom for their sum, so
few seeds give a wide t distribution. Both terms count the small seed-digit
interaction once more than needed: the test errs on the cautious side.

The smallest true contrast this design detects with probability ``power`` in
a two-sided test at level alpha is about

    (t_{1 - alpha/2, df} + t_{power, df}) SE.                            (ST4)

Many tests. Run m tests at level alpha and the chance of at least one false
alarm grows towards m alpha. Holm's step-down correction keeps it at alpha
for any dependence between the tests: sort the p-values p_(1) <= ... <= p_(m)
and report

    p~_(i) = min(1, max_{j <= i} (m - j + 1) p_(j));                     (ST5)

a claim passes at level alpha when its corrected p~ <= alpha. The family is
every test run for the claim, fixed before seeing results; tests chosen after
seeing results do not belong to a family that can be corrected.

Equations (ST1)-(ST5) are in docs/derivations.md, section 11.1.
"""
import math
import numbers
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

import numpy as np

_TINY = 1e-300
NORMAL_DF = 1e7  # beyond this many degrees of freedom, Student's t is the normal distribution to 1e-6


def _real(value: Any, name: str) -> float:
    """A real number (Python or NumPy, not a bool, not an array) as a float, or a clear TypeError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        if getattr(value, "ndim", None) == 0 and not isinstance(value, (bool, np.bool_)):
            return _real(value.item(), name)  # a 0-d array
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}. "
                        f"Fix: pass a float, e.g. {name}=float(...).")
    return float(value)


def _level(value: Any, name: str) -> float:
    """A probability strictly between 0 and 1 (a test's level, a power, a quantile)."""
    v = _real(value, name)
    if not 0.0 < v < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {v!r}. Fix: e.g. {name}=0.05.")
    return v


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz), for x < (a + 1)/(a + b + 2)."""
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        for num in (m * (b - m) * x / ((a + m2 - 1) * (a + m2)),  # the even step
                    -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))):  # the odd step
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + num / c
            c = c if abs(c) > _TINY else _TINY
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            return h
    raise ArithmeticError(f"the incomplete beta fraction did not converge for a={a}, b={b}, x={x}")


def betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b), to about 1e-13 relative for a, b up to 1e5."""
    a, b, x = _real(a, "a"), _real(b, "b"), _real(x, "x")
    if not (0 < a < math.inf and 0 < b < math.inf):
        raise ValueError(f"betainc needs finite a > 0 and b > 0, got a={a!r}, b={b!r}.")
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"betainc needs 0 <= x <= 1, got x={x!r}.")
    if x in (0.0, 1.0):
        return x
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b  # the symmetry I_x(a, b) = 1 - I_{1-x}(b, a)


def _df(df: Any) -> float:
    df = _real(df, "df")
    if not df > 0:  # NaN fails too
        raise ValueError(f"degrees of freedom must be > 0 (inf: the normal distribution), got {df!r}.")
    return df


def t_two_sided(t: float, df: float) -> float:
    """2 P(T > |t|) for Student's t with ``df`` degrees of freedom (any real df > 0, or inf), (ST3)."""
    t, df = _real(t, "t"), _df(df)
    if math.isnan(t):
        raise ValueError("t is NaN. Fix: check the statistic (a standard error of 0 gives no t).")
    if math.isinf(t):
        return 0.0
    if df > NORMAL_DF:
        return math.erfc(abs(t) / math.sqrt(2.0))  # the normal limit
    return betainc(df / 2.0, 0.5, df / (df + t * t))  # (ST3)


def t_quantile(q: float, df: float) -> float:
    """The q-quantile of Student's t (0 < q < 1), by bisection on (ST3)."""
    q, df = _level(q, "q"), _df(df)
    if q == 0.5:
        return 0.0
    if df > NORMAL_DF:
        return NormalDist().inv_cdf(q)
    tail = 2 * min(q, 1 - q)  # the two-sided p-value that the quantile has
    lo, hi = 0.0, 1.0
    while t_two_sided(hi, df) > tail:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_two_sided(mid, df) > tail:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * hi:
            break
    return 0.5 * (lo + hi) if q > 0.5 else -0.5 * (lo + hi)


def contrast_test(correct: Any, weights: Sequence[float], *, alpha: float = 0.05, power: float = 0.8) -> dict[str, Any]:
    """A contrast of codes over seeds and test digits, (ST1)-(ST4).

    Parameters
    ----------
    correct : array (J, K, n) of 0/1 (bool)
        Whether the probe of code j, seed k got test digit i right; every code on the same n digits.
    weights : J numbers summing to 0
        (1, -1): A against B. Centred noise levels: the trend of accuracy with noise, per unit of noise.
    alpha, power : the level and power of the detectable contrast (ST4)

    Returns
    -------
    dict: ``estimate`` (dbar), ``per_seed`` (the K seed means m_k), ``se``, ``df``, ``t``, ``p``,
    ``detectable`` (ST4), and the two variance terms ``seed_term``, ``digit_term``.
    """
    alpha, power = _level(alpha, "alpha"), _level(power, "power")
    c = np.asarray(correct)
    if c.ndim != 3:
        raise ValueError(f"correct must be a (codes, seeds, digits) array, got shape {c.shape}. Fix: stack "
                         "one (seeds, digits) array of 0/1 per code.")
    if c.dtype.kind not in "biu":
        raise TypeError(f"correct must be a bool or integer array (whether each digit was classified right), got "
                        f"dtype {c.dtype}. Fix: correct.astype(bool), or predictions == labels.")
    if c.size and not np.isin(c, (0, 1)).all():
        raise ValueError("correct must hold 0/1 (whether each digit was classified right), got other values.")
    J, K, n = c.shape
    if J < 1:
        raise ValueError("correct holds no codes: a contrast compares two or more. Fix: stack one (seeds, digits) "
                         "array per code.")
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"weights must be real numbers, one per code, got {weights!r}.") from None
    if w.shape != (J,):
        raise ValueError(f"weights must have one number per code ({J}), got shape {w.shape}.")
    if not np.all(np.isfinite(w)) or abs(w.sum()) > 1e-9 * max(1.0, np.abs(w).sum()):
        raise ValueError(f"the weights of a contrast must be finite and sum to 0 (so equal codes give 0), got "
                         f"{w.tolist()}. Fix: (1, -1) for A against B, or subtract the mean of the levels.")
    if K < 2 or n < 2:
        raise ValueError(f"a contrast over seeds and digits needs at least 2 seeds and 2 digits, got {K} and {n}. "
                         "Fix: run more seeds (the seed term of (ST1) needs them).")
    scale = float(np.abs(w).max())  # the contrast is computed with weights of largest size 1 ...
    if scale == 0.0:
        raise ValueError("the weights are all 0: there is nothing to compare. Fix: (1, -1) for A against B.")
    w = w / scale
    D = np.tensordot(w, c.astype(np.float64), axes=1)  # K x n, D_ki
    m, g = D.mean(axis=1), D.mean(axis=0)
    seed_term, digit_term = float(m.var(ddof=1)) / K, float(g.var(ddof=1)) / n  # (ST1)
    se = math.sqrt(seed_term + digit_term)
    est = float(D.mean())
    if se == 0.0:
        return {"estimate": est * scale, "per_seed": (m * scale).tolist(), "se": 0.0, "df": math.inf,
                "t": math.nan, "p": 1.0 if est == 0.0 else 0.0, "detectable": 0.0, "seed_term": 0.0,
                "digit_term": 0.0}
    df = se**4 / (seed_term**2 / (K - 1) + digit_term**2 / (n - 1))  # (ST2)
    t = est / se
    detectable = (t_quantile(1 - alpha / 2, df) + t_quantile(power, df)) * se  # (ST4)
    # ... and given back in the weights' own units (t, df and p do not change with the scale)
    return {"estimate": est * scale, "per_seed": (m * scale).tolist(), "se": se * scale, "df": df, "t": t,
            "p": t_two_sided(t, df), "detectable": detectable * scale, "seed_term": seed_term * scale * scale,
            "digit_term": digit_term * scale * scale}


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (ST5), in the order given."""
    if isinstance(pvalues, (str, bytes, set, frozenset, dict)) or not isinstance(pvalues, (Sequence, np.ndarray)):
        raise TypeError(f"pvalues must be a list of p-values in a fixed order, got {type(pvalues).__name__} "
                        f"{pvalues!r}. Fix: holm([0.01, 0.04]) (a set has no order to give them back in).")
    if isinstance(pvalues, np.ndarray) and pvalues.ndim != 1:
        raise ValueError(f"pvalues must be 1-D, got an array of shape {pvalues.shape}. Fix: pvalues.ravel().")
    p = [_real(v, "each p-value") for v in pvalues]
    if any(not 0.0 <= v <= 1.0 for v in p):  # NaN fails too
        raise ValueError(f"p-values must lie in [0, 1], got {p}.")
    m = len(p)
    adjusted, running = [0.0] * m, 0.0
    for rank, i in enumerate(sorted(range(m), key=lambda i: p[i])):
        running = max(running, min(1.0, (m - rank) * p[i]))  # (ST5), rank counted from 0
        adjusted[i] = running
    return adjusted
