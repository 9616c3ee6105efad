r"""The array backend: NumPy on the CPU, CuPy on a GPU, one switch.

Every compute module (layers, losses, corruptions, optimizers) receives its
array namespace ``xp`` from here and calls only ``xp.`` functions, so the same
lines run on both. This module is also the one place where arrays cross
between host and device (:func:`to_host`, :meth:`Backend.asarray`).

The backend is chosen, from strongest to weakest, by

1. the ``backend=`` argument of a model, trainer or function;
2. the environment variable ``SCRATCHDAE_BACKEND``;
3. the default, ``"numpy"``.

Each of them takes ``"numpy"``, ``"cupy"`` or ``"auto"`` (CuPy when a GPU is
usable, else NumPy). CuPy is imported lazily, so a NumPy-only install never
touches it.
"""
import contextlib
import os
from types import ModuleType
from typing import Any

import numpy as np

BACKEND_NAMES = ("numpy", "cupy", "auto")
ENV_VAR = "SCRATCHDAE_BACKEND"
DTYPES = ("float32", "float64")

# Type hints for readers, not for a type checker: the compute code runs unchanged on NumPy and
# CuPy, so an array is hinted as ``Array`` whichever library made it.
Array = Any  # a numpy.ndarray or a cupy.ndarray
Rng = Any  # a numpy.random.Generator or a cupy.random.Generator, from Backend.rng
DType = Any  # "float32", "float64" or a numpy.dtype

CUPY_HINT = (
    "Install CuPy for your CUDA version with the package's extra, "
    "pip install 'scratchdae[cuda12]' (CUDA 12) or 'scratchdae[cuda13]' (CUDA 13), "
    "on a machine with an NVIDIA GPU; or use --backend numpy."
)


class Unavailable(RuntimeError):
    """What was asked for needs something this machine lacks (a GPU, a program); the message says how to get it."""


class BackendUnavailable(Unavailable):
    """The requested backend cannot run on this machine."""


def _cupy_or_reason():
    """Return (cupy module, None) when a GPU is usable, else (None, reason)."""
    try:
        import cupy
    except ImportError as err:  # not installed, or a broken CUDA install
        return None, f"CuPy is not importable ({err})"
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:  # noqa: BLE001 - CuPy raises its own CUDA errors
        return None, f"CuPy is installed but no CUDA device is usable ({err})"
    if n < 1:
        return None, "CuPy is installed but it sees no GPU"
    return cupy, None


class Backend:
    """An array namespace plus the few things that differ between libraries.

    Attributes
    ----------
    name : str
        ``"numpy"`` or ``"cupy"``.
    xp : module
        ``numpy`` or ``cupy``; compute code calls ``xp.*`` only.
    """

    def __init__(self, name: str, xp: ModuleType) -> None:
        self.name = name
        self.xp = xp

    def __repr__(self):
        return f"Backend({self.name!r})"

    def __eq__(self, other):
        return isinstance(other, Backend) and other.name == self.name

    def __hash__(self):
        return hash(self.name)

    def asarray(self, a: Any, dtype: DType | None = None) -> Array:
        """Host or device data -> an array of this backend (host-to-device copy)."""
        if self.name == "cupy":
            return self.xp.asarray(a, dtype=dtype)
        return np.asarray(to_host(a), dtype=dtype)

    def rng(self, seed: int | None = None) -> Rng:
        """A seeded generator of this backend.

        Both NumPy's and CuPy's ``default_rng`` draw ``standard_normal`` and
        ``random`` directly in float32 when asked (``dtype=``), so noise is
        never drawn in float64 and cast down. The two libraries' streams
        differ: the same seed gives the same numbers on the same backend only.
        """
        return self.xp.random.default_rng(seed)

    def synchronize(self) -> None:
        """Wait for the device to finish (a no-op on NumPy); use before timing."""
        if self.name == "cupy":
            self.xp.cuda.Stream.null.synchronize()


_NUMPY = Backend("numpy", np)
_CUPY = None


def get_backend(name: str | Backend | None = None) -> Backend:
    """Return the :class:`Backend` for ``name`` (see the module docstring).

    ``name`` may also be a :class:`Backend`, which is returned as it is.
    """
    global _CUPY
    if isinstance(name, Backend):
        return name
    source = "backend argument"
    if name is None:
        name, source = os.environ.get(ENV_VAR, "") or "numpy", f"environment variable {ENV_VAR}"
    if not isinstance(name, str) or name.lower() not in BACKEND_NAMES:
        raise ValueError(
            f"unknown backend {name!r} (from the {source}); expected one of "
            f"{', '.join(BACKEND_NAMES)}. Fix: pass backend='numpy' or set {ENV_VAR}=numpy."
        )
    name = name.lower()
    if name == "numpy":
        return _NUMPY
    if _CUPY is not None:
        return _CUPY
    cupy, reason = _cupy_or_reason()
    if cupy is None:
        if name == "auto":
            return _NUMPY
        raise BackendUnavailable(f"the cupy backend was asked for (by the {source}) but {reason}. "
                                 f"Fix: {CUPY_HINT}")
    _CUPY = Backend("cupy", cupy)
    return _CUPY


def available_backends() -> list[str]:
    """Names of the backends usable here, NumPy first."""
    return ["numpy"] + (["cupy"] if _cupy_or_reason()[0] is not None else [])


def backend_of(a: Any) -> Backend:
    """The :class:`Backend` an array lives on (NumPy for anything not CuPy)."""
    if type(a).__module__.split(".")[0] == "cupy":
        return get_backend("cupy")
    return _NUMPY


def overflow_unwarned(xp: ModuleType) -> contextlib.AbstractContextManager:
    """A context in which NumPy does not warn of overflow or invalid values, for code that checks its answer
    for NaN and inf itself and refuses it with a message of its own (CuPy never warns: nothing to do)."""
    errstate = getattr(xp, "errstate", None)
    return errstate(over="ignore", invalid="ignore") if errstate else contextlib.nullcontext()


def to_host(a: Any) -> np.ndarray:
    """Any array (NumPy, CuPy, 0-d, scalar) -> a NumPy array. Syncs the device."""
    if type(a).__module__.split(".")[0] == "cupy":
        return a.get()
    return np.asarray(a)


def check_dtype(dtype: DType) -> np.dtype:
    """Return ``dtype`` as a NumPy dtype, or raise: only float32 and float64 are used."""
    dt = np.dtype(dtype)
    if dt.name not in DTYPES:
        raise TypeError(
            f"dtype must be float32 (training) or float64 (gradient checks), got {dt.name}. "
            "Fix: pass dtype='float32'."
        )
    return dt
