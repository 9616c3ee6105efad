"""A stand-in for CuPy on machines without a GPU, strict where CuPy is strict.

Arrays of this "device" are ``DeviceArray``, a NumPy subclass that refuses to
be combined with host (NumPy) arrays in arithmetic, the way CuPy refuses
``cupy_array + numpy_array``. The namespace ``fake`` mirrors NumPy's, returns
DeviceArrays, and, like ``cupy.asarray``, takes host data only through
``asarray``/``array``. Installed as the "cupy" backend, it runs the package's
CuPy code paths here and fails where host and device arrays would mix.
"""
import types

import numpy as np


class HostDeviceMix(TypeError):
    pass


def _to_base(a, allow_host=False):
    if isinstance(a, DeviceArray):
        return a.view(np.ndarray)
    if isinstance(a, np.ndarray) and a.ndim > 0 and not allow_host:
        raise HostDeviceMix(f"a host (NumPy) array of shape {a.shape} was mixed with device arrays; "
                            "copy it with backend.asarray first (CuPy would refuse it)")
    if isinstance(a, (list, tuple)):
        return type(a)(_to_base(x, allow_host) for x in a)
    return a


def _wrap(r):
    if isinstance(r, np.ndarray) and not isinstance(r, DeviceArray):
        return r.view(DeviceArray)
    if isinstance(r, np.generic):  # CuPy returns 0-d arrays, not scalars, from reductions
        return np.asarray(r).view(DeviceArray)
    if isinstance(r, tuple):
        return tuple(_wrap(x) for x in r)
    return r


class DeviceArray(np.ndarray):
    __module__ = "cupy._fake"  # so scratchdae.backend.backend_of takes it for a CuPy array

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = [_to_base(x) for x in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(_to_base(x) for x in kwargs["out"])
        return _wrap(getattr(ufunc, method)(*inputs, **kwargs))

    def __array_function__(self, func, types_, args, kwargs):
        return _wrap(func(*_to_base(list(args)), **{k: _to_base(v) for k, v in kwargs.items()}))

    def get(self):
        """Device to host, as cupy.ndarray.get()."""
        return np.array(self.view(np.ndarray))

    def __getitem__(self, key):
        return _wrap(np.ndarray.__getitem__(self.view(np.ndarray), _to_base(key, allow_host=True)))


def _function(name):
    f = getattr(np, name)
    host_ok = name in ("asarray", "array", "ascontiguousarray")

    def wrapper(*args, **kwargs):
        args = [_to_base(a, allow_host=host_ok) for a in args]
        kwargs = {k: _to_base(v, allow_host=host_ok) for k, v in kwargs.items()}
        return _wrap(f(*args, **kwargs))
    return wrapper


class _Generator:
    def __init__(self, seed):
        self._g = np.random.default_rng(seed)

    def __getattr__(self, name):
        f = getattr(self._g, name)
        return lambda *a, **k: _wrap(np.asarray(f(*a, **k)))


class _Namespace(types.ModuleType):
    def __getattr__(self, name):
        attr = getattr(np, name)
        return _function(name) if callable(attr) and not isinstance(attr, type) else attr


fake = _Namespace("fake_cupy")
fake.random = types.SimpleNamespace(default_rng=_Generator)
fake.cuda = types.SimpleNamespace(Stream=types.SimpleNamespace(null=types.SimpleNamespace(synchronize=lambda: None)))
fake.__version__ = "fake"
