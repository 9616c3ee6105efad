r"""2-D toy data with exact answers: smoothed density, score and posterior mean.

Every toy data set is a mixture of K isotropic Gaussians,

    p(x) = sum_k w_k N(x; mu_k, std_k^2 I),

so adding Gaussian noise of level s, x~ = x + s eps with eps ~ N(0, I), gives
again a mixture of isotropic Gaussians, and three quantities are closed form.
With tau_k^2 = std_k^2 + s^2:

    p_s(x~) = sum_k w_k N(x~; mu_k, tau_k^2 I)                              (TM1)

    grad log p_s(x~) = sum_k gamma_k(x~) (mu_k - x~) / tau_k^2                  (TM2)

    E[x | x~] = sum_k gamma_k(x~) (std_k^2 x~ + s^2 mu_k) / (std_k^2 + s^2)     (TM3)

    p(x | x~) = sum_k gamma_k(x~) N(x; (std_k^2 x~ + s^2 mu_k) / tau_k^2, std_k^2 s^2 / tau_k^2 I)   (TM4)

where gamma_k(x~) = w_k N(x~; mu_k, tau_k^2 I) / p_s(x~) are the responsibilities
of the smoothed mixture. (TM3) weights each component's Gaussian posterior mean
by gamma_k; Tweedie's (Miyasawa's) formula says it equals x~ + s^2 grad log p_s(x~).
(TM4) is the whole posterior, whose mean (TM3) is: drawing from it is the exact
Gibbs step of the DAE chain (MC1), the chain a perfect DAE would run.

Why these matter: a DAE trained with mean squared error on Gaussian noise of
level s learns r(x~) ~ E[x | x~], the posterior mean (TM3), and so
(r(x~) - x~) / s^2 estimates the score of the smoothed density (TM2). On real
images neither has a known answer; here both are exact, so a trained model's
output, its score field and its error can be compared with the truth.
``GaussianMixture.bayes_error`` gives the smallest mean squared error any
denoiser can reach.

This is host-side reference maths: plain NumPy in float64, not the package's
backend. Inputs are (n, d) float arrays (float32 or float64); every result is
float64. Data sets by name (``--dataset toy:NAME``): ``mixture8``, ``spiral``,
``rings``.
"""
import math
import numbers
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

_CHUNK = 4096  # rows per block: keeps the N,K,d temporaries a few MB even for many components


# -- input checks --------------------------------------------------------------
def _check_level(s, name="noise level s", example="s=0.3"):
    """A finite number >= 0 (s = 0 means no smoothing), up to MAX_COORDINATE; a 0-d array is taken as its value."""
    if getattr(s, "ndim", None) == 0 and not isinstance(s, (bool, np.bool_)):
        s = s.item()
    ok = (isinstance(s, numbers.Real) and not isinstance(s, bool) and math.isfinite(s) and 0 <= s <= MAX_COORDINATE)
    if not ok:
        raise ValueError(f"{name} must be a finite number from 0 to {MAX_COORDINATE:g}, got {s!r}. "
                         f"Fix: pass e.g. {example}.")
    return float(s)


MAX_COORDINATE = 1e150  # squared distances of points within this stay finite in float64
MAX_MEAN = 1e30  # points drawn around means within this fit in float32
MIN_STD = 1e-150  # and squared stds stay above float64's smallest normal number


def _check_points(x, dim, name="x"):
    """An (n, dim) float array, returned as a float64 copy."""
    if not isinstance(x, np.ndarray):
        if hasattr(x, "shape") and hasattr(x, "dtype"):
            raise TypeError(f"{name} must be a NumPy array on the host, got {type(x).__name__}. "
                            f"Fix: copy it over first with scratchdae.to_host({name}).")
        raise TypeError(f"{name} must be a NumPy array, got {type(x).__name__}. "
                        f"Fix: wrap it with numpy.asarray({name}, dtype='float64').")
    if x.ndim != 2 or x.shape[1] != dim:
        hint = f"{name}.reshape(1, {dim}) for one point" if x.ndim == 1 else f"rows of {dim} coordinates"
        raise ValueError(f"{name} must have shape (n, {dim}) for this {dim}-D mixture, got shape {x.shape}. "
                         f"Fix: pass {hint}.")
    if x.dtype.kind != "f":
        raise TypeError(f"{name} must hold floating-point values, got dtype {x.dtype}. "
                        f"Fix: convert with {name}.astype('float64').")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf values. Fix: clean or drop those points first.")
    if x.size and float(np.abs(x).max()) > MAX_COORDINATE:  # a Python float: no cast of 1e150 to float32
        raise ValueError(f"{name} has a coordinate of {float(np.abs(x).max()):.3g}; beyond {MAX_COORDINATE:g} the squared "
                         "distances overflow float64 and the answer would be NaN. Fix: pass points on the "
                         "mixture's scale (its means are within a few units of 0).")
    return x.astype(np.float64)


def _check_count(n, name="n", most=100_000_000):
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or not 1 <= n <= most:
        raise ValueError(f"{name} must be a whole number from 1 to {most:,}, got {n!r}. Fix: pass e.g. "
                         f"{name}={min(1000, most)}.")
    return int(n)


def _rng(seed):
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0:
        return np.random.default_rng(int(seed))
    raise TypeError(f"seed must be an int >= 0 or a numpy.random.Generator, got {seed!r}. "
                    "Fix: pass e.g. seed=0 or seed=numpy.random.default_rng(0).")


def _in_chunks(fn, x, s):
    """fn(block, s) on blocks of rows of x, stacked back together; an answer that float64 cannot hold is refused."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # checked just below
        out = np.concatenate([fn(x[i:i + _CHUNK], s) for i in range(0, max(len(x), 1), _CHUNK)])
    if not np.isfinite(out).all():
        far = np.abs(x).max() if x.size else 0.0
        raise ValueError(f"points as far as {far:.3g} from 0 give squared distances over this mixture's variances "
                         "that float64 cannot hold: the answer would be NaN or inf. Fix: pass points on the "
                         "mixture's scale, or use larger stds.")
    return out


@dataclass(frozen=True)
class BayesError:
    r"""Monte Carlo estimate of the Bayes (minimum) mean squared error per coordinate.

    ``mse`` is E||x - E[x|x~]||^2 / d with the exact posterior mean (TM3);
    ``noisy_mse`` is ||x~ - x||^2 / d on the same draws (its expectation is
    s^2: the error of returning the noisy input); ``stderr`` is the Monte Carlo
    standard error of ``mse``. ``float(result)`` is ``mse``.
    """

    s: float
    mse: float
    noisy_mse: float
    stderr: float
    n: int

    def __float__(self) -> float:
        return self.mse


class GaussianMixture:
    r"""A mixture of K isotropic Gaussians in d dimensions, with exact smoothed quantities.

    Parameters
    ----------
    means : array-like, (K, d)
        Component centres mu_k.
    std : float or array-like (K,)
        Component standard deviations std_k (one for all, or one each), > 0.
    weights : array-like (K,), optional
        Mixture weights w_k > 0 summing to 1; equal weights by default.
    name : str
        A label for ``repr`` and plots.

    Attributes ``means`` (K, d), ``stds`` (K,), ``weights`` (K,) are read-only
    float64 arrays; ``dim`` is d. Every method that takes points accepts an
    (n, d) float32 or float64 array and returns float64.
    """

    def __init__(self, means: ArrayLike, std: float | ArrayLike, weights: ArrayLike | None = None,
                 name: str = "mixture") -> None:
        try:
            means = np.array(means, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"means must be real numbers, shape (K, d), got {means!r}. Fix: e.g. [[0, 0], [1, 1]]."
                            ) from None
        if means.ndim != 2 or means.shape[0] < 1 or means.shape[1] < 1:
            raise ValueError(f"means must have shape (K, d) with K, d >= 1, got shape {means.shape}. "
                             "Fix: one row per component, e.g. [[0, 0], [1, 1]].")
        if not np.isfinite(means).all():
            raise ValueError("means contain NaN or inf values. Fix: pass finite centres.")
        if np.abs(means).max() > MAX_MEAN:
            raise ValueError(f"means as far as {np.abs(means).max():.3g} from 0: beyond {MAX_MEAN:g} points drawn "
                             "around them leave float32 and their squared distances float64. Fix: centres on the "
                             "scale of the data (a few units).")
        K = len(means)
        if isinstance(std, (bool, np.bool_)) or (isinstance(std, (list, tuple)) and any(
                isinstance(v, (bool, np.bool_)) for v in std)):
            raise TypeError(f"std must be a number (or one per component), got {std!r}. Fix: pass e.g. std=0.1.")
        try:
            stds = np.array(std, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"std must be a number (or one per component), got {std!r}. Fix: pass e.g. std=0.1."
                            ) from None
        if stds.ndim == 0:
            stds = np.full(K, float(stds))
        if stds.shape != (K,):
            raise ValueError(f"std must be a number or have shape ({K},), one per component; got shape "
                             f"{stds.shape}. Fix: pass one std for all, e.g. std=0.1.")
        if not (np.isfinite(stds).all() and (stds >= MIN_STD).all() and (stds <= MAX_COORDINATE).all()):
            raise ValueError(f"std must be finite and > 0, from {MIN_STD:g} to {MAX_COORDINATE:g} (its square a "
                             f"normal float64), got {np.array2string(stds, threshold=6)}. Fix: pass e.g. std=0.1.")
        if weights is None:
            weights = np.full(K, 1.0 / K)
        weights = np.array(weights, dtype=np.float64)
        if weights.shape != (K,):
            raise ValueError(f"weights must have shape ({K},), one per component; got shape {weights.shape}. "
                             "Fix: pass one weight per row of means, or leave weights out for equal weights.")
        if not (np.isfinite(weights).all() and (weights > 0).all()):
            raise ValueError(f"weights must be finite and > 0, got {np.array2string(weights, threshold=6)}. "
                             "Fix: drop components with zero weight.")
        if abs(weights.sum() - 1.0) > 1e-8:
            raise ValueError(f"weights must sum to 1, got a sum of {weights.sum()!r}. "
                             "Fix: normalise them, w = w / w.sum().")
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}.")
        for a in (means, stds, weights):
            a.flags.writeable = False
        self.means, self.stds, self.weights, self.name = means, stds, weights, name
        self.dim = means.shape[1]

    def __repr__(self):
        K = len(self.means)
        lo, hi = self.stds.min(), self.stds.max()
        std = f"std={lo:g}" if lo == hi else f"std={lo:g}..{hi:g}"
        w = "equal weights" if np.allclose(self.weights, 1.0 / K, rtol=0, atol=1e-12) else "unequal weights"
        return f"GaussianMixture({self.name}: {K} components in {self.dim}-D, {std}, {w})"

    # -- drawing ---------------------------------------------------------------
    def sample(self, n: int, seed: int | np.random.Generator = 0, dtype: DTypeLike = "float32") -> np.ndarray:
        """(n, d) points drawn from the mixture: pick k with probability w_k, then mu_k + std_k eps.

        ``seed`` is an int (the same int gives the same points) or a
        ``numpy.random.Generator`` (which advances).
        """
        n = _check_count(n)
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"dtype must be a floating-point type, got {dtype}. Fix: pass dtype='float32'.")
        rng = _rng(seed)
        k = rng.choice(len(self.means), size=n, p=self.weights)  # N   which component
        eps = rng.standard_normal((n, self.dim))  # N,d
        return (self.means[k] + self.stds[k, None] * eps).astype(dtype)  # N,d

    # -- the smoothed mixture ----------------------------------------------------
    def _log_joint(self, x, s):
        """log w_k + log N(x; mu_k, tau_k^2 I) for every point and component: N,K."""
        tau2 = self.stds**2 + s**2  # K
        diff = x[:, None, :] - self.means[None, :, :]  # N,K,d
        sq = np.einsum("nkd,nkd->nk", diff, diff)  # N,K   ||x - mu_k||^2
        return np.log(self.weights) - 0.5 * self.dim * np.log(2 * np.pi * tau2) - sq / (2 * tau2)  # N,K

    def _log_density(self, x, s):
        a = self._log_joint(x, s)  # N,K
        m = a.max(axis=1, keepdims=True)  # N,1  log-sum-exp: shift by the largest term first
        return m[:, 0] + np.log(np.exp(a - m).sum(axis=1))  # (TM1) N

    def _responsibilities(self, x, s):
        """gamma_k(x) = w_k N(x; mu_k, tau_k^2 I) / p_s(x): a softmax over k, N,K."""
        a = self._log_joint(x, s)  # N,K
        gamma = np.exp(a - a.max(axis=1, keepdims=True))  # N,K  stable: the largest term is exp(0) = 1
        return gamma / gamma.sum(axis=1, keepdims=True)

    def _score(self, x, s):
        gamma_over_tau2 = self._responsibilities(x, s) / (self.stds**2 + s**2)  # N,K  gamma_k / tau_k^2
        return gamma_over_tau2 @ self.means - gamma_over_tau2.sum(axis=1, keepdims=True) * x  # (TM2) N,d

    def _posterior_mean(self, x_tilde, s):
        gamma = self._responsibilities(x_tilde, s)  # N,K
        tau2 = self.stds**2 + s**2  # K
        keep = (gamma * self.stds**2 / tau2).sum(axis=1, keepdims=True)  # N,1  sum_k gamma_k std_k^2 / tau_k^2
        return keep * x_tilde + (gamma * s**2 / tau2) @ self.means  # (TM3) N,d

    def log_density(self, x: np.ndarray, s: float = 0.0) -> np.ndarray:
        r"""(n,) log p_s(x): the log density of x + s eps, eps ~ N(0, I)  (TM1).

        Computed with a log-sum-exp over components, so it stays finite far
        from the data (it is then about -||x - mu_nearest||^2 / (2 tau^2)).
        """
        return _in_chunks(self._log_density, _check_points(x, self.dim), _check_level(s))

    def score(self, x: np.ndarray, s: float = 0.0) -> np.ndarray:
        r"""(n, d) exact score grad_x log p_s(x) = sum_k gamma_k(x) (mu_k - x) / tau_k^2  (TM2).

        A denoiser r trained at noise level s estimates it as (r(x) - x) / s^2.
        """
        return _in_chunks(self._score, _check_points(x, self.dim), _check_level(s))

    def posterior_mean(self, x_tilde: np.ndarray, s: float) -> np.ndarray:
        r"""(n, d) exact E[x | x~] for x from this mixture and x~ = x + s eps  (TM3).

        The best possible denoiser in mean squared error. Equal to
        x~ + s^2 score(x~, s) (Tweedie); at s = 0 it returns x~.
        """
        return _in_chunks(self._posterior_mean, _check_points(x_tilde, self.dim, "x_tilde"), _check_level(s))

    def posterior_sample(self, x_tilde: np.ndarray, s: float, seed: int | np.random.Generator = 0) -> np.ndarray:
        r"""(n, d) one draw of x from p(x | x~) for each row of x~ = x + s eps  (TM4).

        A component k is drawn with probability gamma_k(x~), then x from that
        component's Gaussian posterior: mean (std_k^2 x~ + s^2 mu_k) / tau_k^2,
        variance std_k^2 s^2 / tau_k^2. Their average over draws is the
        posterior mean (TM3); at s = 0 it returns x~.
        """
        x_tilde, s, rng = _check_points(x_tilde, self.dim, "x_tilde"), _check_level(s), _rng(seed)
        gamma = _in_chunks(self._responsibilities, x_tilde, s)  # N,K
        k = (gamma.cumsum(axis=1) < rng.random((len(x_tilde), 1))).sum(axis=1)  # N  one component a row, by gamma
        k = np.minimum(k, len(self.means) - 1)  # a cumulative sum a rounding short of 1
        tau2 = self.stds[k] ** 2 + s**2  # N
        mean = (self.stds[k, None] ** 2 * x_tilde + s**2 * self.means[k]) / tau2[:, None]  # N,d  (TM4)
        std = self.stds[k] * s / np.sqrt(tau2)  # N
        return mean + std[:, None] * rng.standard_normal(x_tilde.shape)  # (TM4) N,d

    def bayes_error(self, s: float, n: int = 200_000, seed: int | np.random.Generator = 0) -> BayesError:
        r"""The minimum mean squared error per coordinate at noise level s, by Monte Carlo.

        Draws n points x, corrupts them, x~ = x + s eps, and averages
        ||x - E[x|x~]||^2 / d with the exact posterior mean (TM3). No denoiser
        can do better in expectation; returning x~ itself scores s^2. Returns a
        :class:`BayesError` (``float(result)`` is the MSE).
        """
        s = _check_level(s)
        n = _check_count(n)
        rng = _rng(seed)
        x = self.sample(n, seed=rng, dtype="float64")  # N,d
        x_tilde = x + s * rng.standard_normal(x.shape)  # N,d  (C1)
        err = ((self.posterior_mean(x_tilde, s) - x) ** 2).mean(axis=1)  # N   squared error per coordinate
        noisy = ((x_tilde - x) ** 2).mean()
        return BayesError(s=s, mse=float(err.mean()), noisy_mse=float(noisy),
                          stderr=float(err.std() / math.sqrt(n)), n=n)

    def grid(self, n: int = 40, margin: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r"""A regular n x n grid over the data, for density images and quiver plots of the score.

        The square [lo, hi]^2 with lo = min(means) - margin, hi = max(means) +
        margin (the same range on both axes). Returns ``xs`` (n,), ``ys`` (n,)
        and ``points`` (n*n, 2) in ``numpy.meshgrid(xs, ys)`` order, so
        ``f(points).reshape(n, n)`` lines up with ``X, Y = numpy.meshgrid(xs, ys)``.
        """
        if self.dim != 2:
            raise ValueError(f"grid() is for 2-D mixtures, this one is {self.dim}-D. "
                             "Fix: evaluate on points of your own choosing.")
        n = _check_count(n, most=2000)  # n x n points
        margin = _check_level(margin, "margin", "margin=0.5")
        lo, hi = self.means.min() - margin, self.means.max() + margin
        xs = np.linspace(lo, hi, n)  # n
        ys = np.linspace(lo, hi, n)  # n
        X, Y = np.meshgrid(xs, ys)  # n,n  X[i, j] = xs[j], Y[i, j] = ys[i]
        return xs, ys, np.column_stack([X.ravel(), Y.ravel()])  # n*n,2


# -- the data sets -----------------------------------------------------------------
def mixture8() -> GaussianMixture:
    r"""8 equal-weight modes with std 0.1 at (2 cos(2 pi k / 8), 2 sin(2 pi k / 8)), k = 0..7."""
    angles = 2 * np.pi * np.arange(8) / 8  # 8
    return GaussianMixture(2.0 * np.column_stack([np.cos(angles), np.sin(angles)]), 0.1, name="mixture8")


def spiral() -> GaussianMixture:
    r"""A two-turn Archimedean spiral of 133 equal-weight Gaussians with std 0.1.

    Centres lie on r(theta) = 0.3 + theta / (2 pi), theta in [0, 4 pi] (from
    (0.3, 0) out to (2.3, 0), turning anticlockwise; successive turns are 1
    apart), equally spaced in arc length: the curve is 16.496 long, so the 133
    centres are 0.1250 apart along it (chords 0.124 to 0.125, about 1.25 std)
    and the density looks like a continuous curve. Everything lies within [-2.5, 2.5]^2 to two stds.
    """
    K, r0, b = 133, 0.3, 1 / (2 * np.pi)  # r = r0 + b theta

    def antiderivative(u):  # of sqrt(u^2 + b^2) in u
        return (u * np.sqrt(u * u + b * b) + b * b * np.arcsinh(u / b)) / 2

    def arc_length(r):  # from r0 to r: the integral of sqrt(r^2 + b^2) dtheta, with dtheta = dr / b
        return (antiderivative(r) - antiderivative(r0)) / b

    theta = np.linspace(0, 4 * np.pi, 20_001)  # a fine grid on which to invert the arc length
    length = arc_length(r0 + b * theta)  # monotone in theta
    t = np.interp(np.linspace(0, length[-1], K), length, theta)  # K   equal steps in arc length
    r = r0 + b * t  # K
    return GaussianMixture(np.column_stack([r * np.cos(t), r * np.sin(t)]), 0.1, name="spiral")


def rings() -> GaussianMixture:
    r"""Two concentric circles of equal-weight Gaussians with std 0.1.

    52 centres on the circle of radius 1 at angles 2 pi k / 52 and 104 on the
    circle of radius 2 at angles 2 pi k / 104: 156 components, neighbours
    0.1208 apart (1.2 std) on both rings. Equal weights per component make the
    density uniform along the curves, so the outer ring holds 2/3 of the mass.
    """
    centres = []
    for radius, K in ((1.0, 52), (2.0, 104)):
        angles = 2 * np.pi * np.arange(K) / K  # K
        centres.append(radius * np.column_stack([np.cos(angles), np.sin(angles)]))
    return GaussianMixture(np.concatenate(centres), 0.1, name="rings")


TOY_DATASETS = {"mixture8": mixture8, "spiral": spiral, "rings": rings}


def get_toy(name: str) -> GaussianMixture:
    """The toy data set called ``name`` (one of ``TOY_DATASETS``), as a :class:`GaussianMixture`."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, one of: {', '.join(TOY_DATASETS)}; got {type(name).__name__} "
                        f"{name!r}. Fix: get_toy('mixture8').")
    if name not in TOY_DATASETS:
        raise ValueError(f"unknown toy data set {name!r}; expected one of: {', '.join(TOY_DATASETS)} "
                         "(on the command line: --dataset toy:mixture8).")
    return TOY_DATASETS[name]()
