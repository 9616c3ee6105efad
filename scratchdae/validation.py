r"""Input checks shared by the public entry points.

Each check raises ``ValueError`` or ``TypeError`` with a message that says what
was expected, what came, and how to fix it. The hot training loop checks the
data once, up front, and not on every batch.
"""
import numbers
from collections.abc import Sequence
from typing import Any

from .backend import Array, DType, backend_of


def check_array(x: Array, name: str = "x", *, ndim: int | None = None, dtype: DType | None = None,
                n_features: int | None = None, finite: bool = True) -> Array:
    """Check an input array and return it unchanged.

    Parameters
    ----------
    x : array
        NumPy or CuPy array.
    ndim : int, optional
        Required number of dimensions.
    dtype : dtype, optional
        Required dtype (no silent casts: float32 stays float32).
    n_features : int, optional
        Required size of the last axis.
    finite : bool
        Refuse NaN and inf (a reduction: on CuPy this syncs the device).
    """
    if not all(hasattr(x, a) for a in ("shape", "dtype", "ndim", "size")) or isinstance(x, type):
        # a table or another array-like (it may have a shape and a dtype, but not an array's other attributes)
        raise TypeError(
            f"{name} must be a NumPy or CuPy array, got {type(x).__name__}. "
            f"Fix: wrap it with numpy.asarray({name}, dtype='float32')."
        )
    if ndim is not None and x.ndim != ndim:
        hint = f" Fix: reshape it, e.g. {name}.reshape(len({name}), -1)." if ndim == 2 else ""
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(x.shape)}.{hint}")
    if n_features is not None and x.shape[-1] != n_features:
        raise ValueError(
            f"{name} must have {n_features} features on its last axis, got shape {tuple(x.shape)}. "
            f"Fix: pass rows of {n_features} values (an image flattened to a row of pixels: 28x28 gives 784), "
            "or use a model built for this width."
        )
    if dtype is not None and x.dtype != dtype:
        raise TypeError(
            f"{name} must have dtype {dtype}, got {x.dtype}. "
            f"Fix: convert once with {name}.astype('{dtype}') before passing it in."
        )
    if x.dtype.kind != "f":
        raise TypeError(
            f"{name} must hold floating-point values, got dtype {x.dtype}. "
            f"Fix: scale images to [0, 1] floats, e.g. {name}.astype('float32') / 255."
        )
    if finite and x.size and not bool(backend_of(x).xp.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or inf values. Fix: clean or drop those entries first.")
    return x


# a noise level or a likelihood's spread: 1/sigma^2 and sigma^2 stay far from float32's limits
SIGMA_RANGE = (1e-6, 1e6)


def as_int(value: Any) -> Any:
    """A NumPy integer as a Python int (so JSON, range() and the checks take it); anything else as it
    came, for the caller's check to judge. A bool stays a bool."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return value


def check_seed(seed: Any, none_ok: bool = False) -> int | None:
    """A seed: an integer >= 0 (NumPy integers too), or None where ``none_ok``; returned as a Python int."""
    if seed is None and none_ok:
        return None
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0{' or None' if none_ok else ''}, got {seed!r}. "
                         "Fix: e.g. seed=0.")
    return int(seed)


def check_positive(value: float, name: str, within: tuple[float, float] | None = None) -> float:
    """A finite number > 0 (a sigma, a learning rate), inside ``within = (low, high)`` when given."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not value > 0 or value == float("inf"):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}. Fix: pass e.g. {name}=0.5.")
    if within is not None and not within[0] <= value <= within[1]:
        raise ValueError(f"{name} must lie between {within[0]:g} and {within[1]:g}, got {value!r}: beyond that, "
                         "float32 arithmetic overflows or underflows and training would fail for a reason that "
                         f"has nothing to do with the learning rate. Fix: pass e.g. {name}=0.5.")
    return float(value)


def check_fraction(value: float, name: str, *, closed_right: bool = True) -> float:
    """A number in [0, 1] (a masking fraction, a momentum)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and 0.0 <= value and (value <= 1.0 if closed_right else value < 1.0)
    if not ok:
        upper = "1]" if closed_right else "1)"
        raise ValueError(f"{name} must be a number in [0, {upper}, got {value!r}. Fix: pass e.g. {name}=0.3.")
    return float(value)


def check_choice(value: str, name: str, choices: Sequence[str]) -> str:
    """One of a fixed set of names."""
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of: {', '.join(map(str, choices))}.")
    return value


def physical_memory() -> int | None:
    """This machine's memory in bytes (None where the OS does not say)."""
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_fits_memory(nbytes: int, what: str, fix: str, error: type[Exception] = MemoryError) -> None:
    """Refuse, before allocating, ``nbytes`` (a Python int: no overflow) more than the machine's memory."""
    total = physical_memory()
    if total is not None and nbytes > total:
        raise error(f"{what} would need {_human(nbytes)}, and this machine has {_human(total)} of memory. "
                          f"Fix: {fix}")


def _human(nbytes):
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if nbytes < 1000 or unit == "PB":
            return f"{nbytes:.3g} {unit}" if unit != "bytes" else f"{nbytes} bytes"
        nbytes /= 1000
