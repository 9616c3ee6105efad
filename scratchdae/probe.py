r"""A linear probe: how much of a frozen representation a linear read-out can decode.

A denoising autoencoder's code h = E(x) is claimed to be a better
representation than the raw pixels x. We test the claim the standard way:
freeze the features, fit multinomial logistic regression (softmax regression)
on the training digits' features, and measure accuracy on the test digits.
The read-out is linear on purpose: a flexible classifier could learn the
representation itself, so its score would say little about the features; a
linear one measures only what is *linearly decodable* from them. The features
never move (no gradient flows back into them).

Shapes: N examples, F features, C classes. With logits Z = X W + b
(X: N,F; W: F,C; b: C) and z^max_n = max_k z_nk,

    p_nk = exp(z_nk - z^max_n) / sum_k' exp(z_nk' - z^max_n)         (LR1)

    L(W, b) = -(1/N) sum_n log p_{n, y_n} + (lam/2) ||W||^2              (LR2)

    dL/dZ = (P - Y) / N,   dL/dW = X^T dL/dZ + lam W,   dL/db = sum_n dL/dZ_n   (LR3)

where Y is the one-hot matrix of the labels. Subtracting the row maximum in
(LR1) changes nothing mathematically (it cancels) but keeps exp() from
overflowing for large logits; log p is taken in the same shifted form,
(z_nk - z^max_n) - log sum_k' exp(z_nk' - z^max_n), so it is never log 0. The bias b is
not penalised: it only moves the class priors.

Why standardise. Features come on any scale (pixels in [0, 1], ReLU codes in
the tens). Shifting each column to mean 0 and scaling it to standard
deviation 1, with the *training* statistics, makes one learning rate and one
grid of lam fit every representation, and makes the penalty treat every
feature alike. Constant columns (border pixels that are always 0, dead ReLU
units) have standard deviation 0; a floor keeps them from dividing by zero.
Their weights get zero gradient and stay at their start, 0.

Why McNemar. Two representations are probed on the *same* test digits, so
their errors are paired: compare them digit by digit, not as two independent
accuracies. Only the discordant digits carry information: b digits that A
gets right and B wrong, c the other way round. If A and B are equally good,
each discordant digit is a fair coin: b ~ Binomial(n = b + c, 1/2). The exact
two-sided p-value is

    p = min(1, 2 sum_{i=0}^{min(b, c)} C(n, i) / 2^n),   p = 1 if n = 0   (MN1)

computed with Python integers, exact for any n.

:class:`LinearProbe` fits and predicts; :func:`probe` runs one representation
end to end; :func:`mcnemar_exact` and :func:`compare` compare them.
Equations (LR1)-(LR3), (MN1) are in docs/derivations.md.
"""
import math
import numbers
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from .backend import Array, Backend, backend_of, check_dtype, overflow_unwarned, to_host
from .optim import Adam, learning_rate
from .validation import check_array, check_fraction, check_positive, check_seed

LAMS = (1e-4, 1e-3, 1e-2, 1e-1)  # the default grid of L2 strengths
MAX_CLASSES = 1000  # without n_classes, labels above max(this, 10 x rows) are refused as not class numbers


# -- the model: forward and backward side by side -----------------------------

def softmax(Z: Array) -> Array:
    """Row-wise softmax (LR1), stable for any finite logits."""
    xp = backend_of(Z).xp
    E = xp.exp(Z - Z.max(axis=1, keepdims=True))  # N,K  in (0, 1]: the largest entry is exp(0)
    return E / E.sum(axis=1, keepdims=True)  # (LR1) N,K


def softmax_cross_entropy(Z: Array, y: Array) -> tuple[Array, tuple]:
    """Mean negative log-likelihood of integer labels ``y`` under softmax(Z): the data term of (LR2).

    Returns ``(value, cache)``; ``value`` is a 0-d array.
    """
    xp = backend_of(Z).xp
    N = Z.shape[0]
    Zs = Z - Z.max(axis=1, keepdims=True)  # N,K  shifted logits, max 0
    E = xp.exp(Zs)  # N,K
    S = E.sum(axis=1)  # N  in [1, K]: log S is safe
    rows = xp.arange(N)
    log_p_y = Zs[rows, y] - xp.log(S)  # (LR1) N  log p_{n, y_n}, never log 0
    P = E / S[:, None]  # (LR1) N,K
    return -log_p_y.mean(), (P, y)  # (LR2) data term


def softmax_cross_entropy_backward(cache: tuple) -> Array:
    """dL/dZ = (P - Y) / N for the mean in (LR2): (LR3). A new array; the cache is untouched."""
    P, y = cache
    xp = backend_of(P).xp
    N = P.shape[0]
    dZ = P.copy()  # N,K
    dZ[xp.arange(N), y] -= 1  # P - Y: subtract the one-hot of each label
    dZ *= 1 / N  # (LR3)
    return dZ


def softmax_regression_loss(params: dict[str, Array], X: Array, y: Array, lam: float) -> tuple[Array, tuple]:
    """The penalised loss (LR2) of ``params = {"W": F,K, "b": K}``; returns ``(value, cache)``."""
    W, b = params["W"], params["b"]
    Z = X @ W + b  # N,K  logits
    nll, ce_cache = softmax_cross_entropy(Z, y)
    value = nll + 0.5 * lam * (W * W).sum()  # (LR2) no penalty on b
    return value, (X, W, lam, ce_cache)


def softmax_regression_backward(cache: tuple, need_dx: bool = True) -> tuple[Array | None, dict[str, Array]]:
    """Gradients (LR3) as ``(dX, {"W": dW, "b": db})``; ``need_dx=False`` skips dX (frozen features)."""
    X, W, lam, ce_cache = cache
    dZ = softmax_cross_entropy_backward(ce_cache)  # (LR3) N,K
    dW = X.T @ dZ  # F,K
    dW += lam * W  # (LR3) the penalty's gradient
    db = dZ.sum(axis=0)  # (LR3) K
    dX = dZ @ W.T if need_dx else None  # N,F  only for the gradient check
    return dX, {"W": dW, "b": db}


# -- input checks ---------------------------------------------------------------

def check_labels(y: Array, n: int, name: str = "y", n_classes: int | None = None,
                 backend: Backend | None = None) -> Array:
    """Integer class labels, one per row of the features, on the features' backend.

    Returns the labels as an array of ``backend`` (a host-to-device copy when
    they come as NumPy and the features live on the GPU). Checking the range
    is a reduction: on CuPy it syncs the device.
    """
    if not hasattr(y, "shape") or not hasattr(y, "dtype"):
        raise TypeError(f"{name} must be a NumPy or CuPy array of integer labels, got {type(y).__name__}. "
                        f"Fix: numpy.asarray({name}, dtype='int64').")
    if y.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer class labels 0..K-1, got dtype {y.dtype}. "
                        f"Fix: {name}.astype('int64') if they are whole numbers (one-hot rows: argmax(axis=1)).")
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one label per example), got shape {tuple(y.shape)}. "
                         f"Fix: {name}.reshape(-1), or argmax(axis=1) for one-hot rows.")
    if y.shape[0] != n:
        raise ValueError(f"{name} has {y.shape[0]} labels but the features have {n} rows; they must match, "
                         "one label per row, in the same order.")
    if backend is not None:
        y = backend.asarray(y)
    if n:
        lo, hi = int(y.min()), int(y.max())  # syncs the device
        if lo < 0 or (n_classes is not None and hi >= n_classes):
            top = "K-1" if n_classes is None else n_classes - 1
            raise ValueError(f"{name} must be class labels in 0..{top}, got values from {lo} to {hi}. "
                             "Fix: map the classes to 0, 1, ..., K-1 (numpy.unique(y, return_inverse=True)).")
    return y


def _check_features(X, name, n_features=None, dtype=None):
    kind = getattr(getattr(X, "dtype", None), "name", None)
    if kind is not None and dtype is None and X.dtype.kind == "f" and kind not in ("float32", "float64"):
        raise TypeError(f"{name} must be float32 or float64 features, got {kind}. Fix: {name}.astype('float32').")
    X = check_array(X, name, ndim=2, n_features=n_features, dtype=dtype)
    check_dtype(X.dtype)
    return X


# -- the probe ----------------------------------------------------------------

class LinearProbe:
    r"""Softmax regression (LR1)-(LR3) on standardised, frozen features.

    ``fit`` chooses the L2 strength ``lam`` from ``lams`` by accuracy on
    validation rows (``X_val``, ``y_val``, or else a seeded ``val_fraction``
    of the training rows), then refits on all training rows with that lam.
    Each fit: standardise with that fit's rows' mean and standard deviation
    (floored at ``std_floor``), start from W = 0, b = 0, and run ``epochs``
    of minibatch Adam with a cosine learning rate, the rows reshuffled each
    epoch by a seeded generator. On NumPy the same seed gives the same model.

    Parameters
    ----------
    lams : sequence of float
        The grid of L2 strengths. A single value skips the selection.
    epochs, batch_size, lr : int, int, float
        Minibatch Adam (:class:`scratchdae.optim.Adam`), base learning rate ``lr``.
    val_fraction : float
        The share of training rows held out to choose lam when no ``X_val`` is given.
    std_floor : float
        Standard deviations below it are replaced by it (constant features).
    n_classes : int, optional
        K; by default the largest training label + 1.
    seed : int

    Attributes (after ``fit``)
    --------------------------
    params : dict ``{"W": F,K, "b": K}`` in the features' dtype
    mean, scale : F  the training standardisation
    lam : float  the chosen L2 strength
    val_accuracies : dict lam -> validation accuracy (empty for a single lam)
    history : list of float  the mean training loss (LR2) of each epoch of the final fit
    """

    def __init__(self, *, lams: float | Sequence[float] = LAMS, epochs: int = 20, batch_size: int = 128,
                 lr: float = 1e-2, val_fraction: float = 0.1, std_floor: float = 1e-3, n_classes: int | None = None,
                 seed: int = 0) -> None:
        if isinstance(lams, numbers.Real) or getattr(lams, "ndim", None) == 0:  # one value (NumPy scalars too)
            lams = (lams,)
        lams = tuple(lams) if isinstance(lams, Sequence) and not isinstance(lams, str) else lams
        if not isinstance(lams, tuple) or not lams or not all(
                isinstance(v, numbers.Real) and not isinstance(v, bool) and 0 <= v < math.inf for v in lams):
            raise ValueError(f"lams must be a non-empty list of finite numbers >= 0, got {lams!r}. "
                             "Fix: e.g. lams=(1e-4, 1e-3, 1e-2).")
        for v, label in ((epochs, "epochs"), (batch_size, "batch_size")):
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{label} must be a positive int, got {v!r}.")
        if n_classes is not None and (not isinstance(n_classes, numbers.Integral) or isinstance(n_classes, bool)
                                      or n_classes < 2):
            raise ValueError(f"n_classes must be an int >= 2, got {n_classes!r}.")
        self.lams = tuple(sorted(float(v) for v in lams))
        self.epochs, self.batch_size = int(epochs), int(batch_size)
        n_classes = None if n_classes is None else int(n_classes)
        seed = check_seed(seed)
        self.lr = check_positive(lr, "lr")
        self.val_fraction = check_fraction(val_fraction, "val_fraction", closed_right=False)
        self.std_floor = check_positive(std_floor, "std_floor")
        self.n_classes, self.seed = n_classes, seed
        self.params = None
        self.lam, self.val_accuracies, self.history = None, {}, []

    # ---- fitting

    def fit(self, X: Array, y: Array, *, X_val: Array | None = None, y_val: Array | None = None) -> "LinearProbe":
        """Choose lam on validation rows, then fit on all of ``X``, ``y``. Returns ``self``."""
        X = _check_features(X, "X")
        be = backend_of(X)
        N, F = X.shape
        if N < 1:
            raise ValueError("X has no rows. Fix: pass at least one training example per class.")
        y = check_labels(y, N, "y", self.n_classes, be)
        K = self.n_classes if self.n_classes is not None else int(y.max()) + 1  # syncs the device
        if self.n_classes is None and K > max(MAX_CLASSES, 10 * N):
            raise ValueError(f"y's largest label is {K - 1:,}, so the probe would fit {K:,} classes to {N:,} rows "
                             f"(a weight matrix of {F:,} x {K:,}). Labels must be class numbers 0..K-1. Fix: "
                             "number the classes from 0 (numpy.unique(y, return_inverse=True)[1]), or pass "
                             "n_classes if there really are that many.")
        if K < 2 or int(y.min()) == int(y.max()):
            raise ValueError(f"y holds a single class ({int(y.max())}); a classifier needs at least 2. "
                             "Fix: pass labels of two or more classes.")
        if (X_val is None) != (y_val is None):
            raise ValueError("pass both X_val and y_val, or neither (then a seeded split of X is held out).")

        self.val_accuracies = {}
        if len(self.lams) > 1 or X_val is not None:
            if X_val is not None:
                X_val = _check_features(X_val, "X_val", n_features=F, dtype=X.dtype)
                y_val = check_labels(y_val, X_val.shape[0], "y_val", K, be)
                X_fit, y_fit = X, y
            else:
                n_val = int(round(self.val_fraction * N))
                if not 1 <= n_val < N:
                    raise ValueError(f"val_fraction={self.val_fraction} of {N} rows holds out {n_val}; "
                                     "need at least one row on each side. Fix: pass X_val and y_val, "
                                     "a larger val_fraction, or a single lam.")
                order = be.xp.argsort(be.rng(self.seed).random(N))  # N  a seeded random permutation
                val, fit = order[:n_val], order[n_val:]
                X_fit, y_fit, X_val, y_val = X[fit], y[fit], X[val], y[val]
            for lam in self.lams:
                self._fit_once(X_fit, y_fit, K, lam)
                self.val_accuracies[lam] = self.accuracy(X_val, y_val)
            best = max(self.val_accuracies.values())
            # ties go to the larger lam: the simpler model when the data cannot tell them apart
            lam = max(v for v, acc in self.val_accuracies.items() if acc == best)
        else:
            lam = self.lams[0]
        self.history = self._fit_once(X, y, K, lam)
        self.lam = lam
        return self

    def _fit_once(self, X, y, K, lam):
        """Standardise with these rows, then minibatch Adam on (LR2) from zero. Returns the loss history."""
        be = backend_of(X)
        xp = be.xp
        N, F = X.shape
        self.mean = X.mean(axis=0)  # F
        self.scale = xp.maximum(X.std(axis=0), self.std_floor)  # F  floored; a Python float keeps X's dtype
        Xs = (X - self.mean) / self.scale  # N,F  standardised, one copy
        self.params = {"W": xp.zeros((F, K), dtype=X.dtype), "b": xp.zeros(K, dtype=X.dtype)}
        opt = Adam(lr=self.lr)  # no weight_decay: (LR3) adds lam W to dW only, b is not penalised
        rng = be.rng(self.seed + 1)  # the same shuffles for every lam: lam is the only difference
        history = []
        for epoch in range(self.epochs):
            opt.lr = learning_rate(self.lr, epoch, self.epochs, "cosine")
            order = xp.argsort(rng.random(N))  # N  this epoch's shuffle
            total = 0.0
            with overflow_unwarned(xp):  # an overflow is caught below, as a loss too large
                for start in range(0, N, self.batch_size):
                    rows = order[start:start + self.batch_size]
                    value, cache = softmax_regression_loss(self.params, Xs[rows], y[rows], lam)  # (LR2)
                    _, grads = softmax_regression_backward(cache, need_dx=False)  # (LR3)
                    opt.step(self.params, grads)
                    total = total + value * rows.shape[0]  # stays on the device
            history.append(float(total) / N)  # note: a CPU-GPU sync point, once per epoch
            if not history[-1] <= 100 * math.log(K):  # it starts at log K (W = 0); NaN fails the test too
                raise ArithmeticError(f"the probe's fit diverged: its loss (LR2) became {history[-1]:.3g} in epoch "
                                      f"{epoch + 1} with lr={self.lr:g}, lam={lam:g}. Fix: a smaller lr "
                                      "(the default is 0.01).")
        return history

    # ---- using a fitted probe

    def _logits(self, X):
        if self.params is None:
            raise ValueError("this LinearProbe is not fitted yet. Fix: call fit(X, y) first.")
        W = self.params["W"]
        X = _check_features(X, "X", n_features=W.shape[0], dtype=W.dtype)
        return ((X - self.mean) / self.scale) @ W + self.params["b"]  # N,K

    def predict(self, X: Array) -> Array:
        """The most probable class of each row: argmax of the logits (N,), on the features' backend."""
        return self._logits(X).argmax(axis=1)

    def predict_proba(self, X: Array) -> Array:
        """Class probabilities (LR1), N,K."""
        return softmax(self._logits(X))

    def correct(self, X: Array, y: Array) -> Array:
        """Boolean N: which rows the probe classifies right (for :func:`mcnemar_exact`)."""
        pred = self.predict(X)  # N  (checks X)
        if pred.shape[0] == 0:
            raise ValueError("X has no rows: there is nothing to score (an accuracy of no rows is not a number). "
                             "Fix: pass at least one test row.")
        return pred == check_labels(y, pred.shape[0], "y", self.params["W"].shape[1], backend_of(pred))

    def accuracy(self, X: Array, y: Array) -> float:
        """Fraction of rows classified right, a host float (syncs the device)."""
        return float(self.correct(X, y).mean())

    def __repr__(self):
        if self.params is None:
            return f"LinearProbe(lams={list(self.lams)}, epochs={self.epochs}, unfitted)"
        F, K = self.params["W"].shape
        return f"LinearProbe({F} features -> {K} classes, lam={self.lam:g}, epochs={self.epochs})"


# -- one representation end to end, and comparisons --------------------------

@dataclass
class ProbeResult:
    """What :func:`probe` returns. ``correct`` stays on the features' backend."""

    accuracy: float  # test accuracy
    correct: object  # bool N_test: which test digits the probe got right
    lam: float  # the chosen L2 strength
    val_accuracies: dict = field(default_factory=dict)  # lam -> validation accuracy
    seconds: float = 0.0  # fit and test, wall clock
    model: object = field(default=None, repr=False)  # the fitted LinearProbe


def probe(train_features: Array, train_labels: Array, test_features: Array, test_labels: Array, seed: int = 0,
          **probe_kw: Any) -> ProbeResult:
    """Fit a :class:`LinearProbe` on the training features, test it; returns a :class:`ProbeResult`.

    ``probe_kw`` go to :class:`LinearProbe` (``lams``, ``epochs``, ...).
    Features are 2-D float arrays (N, F): flatten images first.
    """
    t0 = time.perf_counter()
    model = LinearProbe(seed=seed, **probe_kw).fit(train_features, train_labels)
    correct = model.correct(test_features, test_labels)
    accuracy = float(correct.mean())  # syncs the device, so the time below is complete
    return ProbeResult(accuracy, correct, model.lam, dict(model.val_accuracies), time.perf_counter() - t0, model)


def mcnemar_exact(correct_a: Array, correct_b: Array) -> dict[str, Any]:
    """McNemar's exact test (MN1) for two classifiers scored on the same examples.

    Parameters
    ----------
    correct_a, correct_b : bool arrays (N,)
        Which examples each classifier gets right (NumPy or CuPy; copied to the host once).

    Returns
    -------
    dict with ``b`` (A right, B wrong), ``c`` (A wrong, B right), ``n = b + c``,
    ``p`` (the two-sided p-value, a float) and ``p_exact`` (the same as a
    :class:`fractions.Fraction`: exact even where the float underflows, n > ~1070).
    """
    a, bb = to_host(correct_a), to_host(correct_b)  # host computation: one copy each
    for arr, label in ((a, "correct_a"), (bb, "correct_b")):
        if arr.dtype.kind != "b":
            raise TypeError(f"{label} must be a boolean array (which examples were classified right), "
                            f"got dtype {arr.dtype}. Fix: pass predictions == labels.")
        if arr.ndim != 1:
            raise ValueError(f"{label} must be 1-D, one entry per test example, got shape {tuple(arr.shape)}.")
    if a.shape != bb.shape:
        raise ValueError(f"correct_a has {a.shape[0]} entries but correct_b has {bb.shape[0]}; McNemar's test "
                         "pairs the two classifiers on the same examples. Fix: score both on the same test set.")
    b = int((a & ~bb).sum())  # A right, B wrong
    c = int((~a & bb).sum())  # A wrong, B right
    n = b + c
    if n == 0:
        p_exact = Fraction(1)  # (MN1) no discordant pairs: no evidence either way
    else:
        tail, term = 0, 1  # sum_{i <= min(b, c)} C(n, i), in exact integers; term = C(n, i)
        for i in range(min(b, c) + 1):
            tail += term
            term = term * (n - i) // (i + 1)  # C(n, i + 1) from C(n, i): exact, one product per term
        p_exact = min(Fraction(1), Fraction(2 * tail, 2**n))  # (MN1)
    return {"b": b, "c": c, "n": n, "p": float(p_exact), "p_exact": p_exact}


def compare(results: dict[str, ProbeResult | Array]) -> dict[tuple[str, str], dict[str, Any]]:
    """Pairwise McNemar tests (MN1) between probes scored on the same test set.

    ``results`` maps a name to a :class:`ProbeResult` (or to a boolean
    correctness vector). Returns ``{(name_a, name_b): mcnemar_exact(...)}``
    for every pair, in the order of ``results``.
    """
    names = list(results)
    correct = {k: getattr(r, "correct", r) for k, r in results.items()}
    return {(a, b): mcnemar_exact(correct[a], correct[b]) for i, a in enumerate(names) for b in names[i + 1:]}
