"""Speed only: the code that makes training fast, kept apart from the reference code it must equal.

The rest of the package is written to be read: :meth:`scratchdae.optim.Optimizer.step`, for one,
is a plain loop over the parameters. Each trick here changes no parameter by a single bit, and
tests/test_optim.py checks that the fast step and the plain one agree to the last bit. The
measurements are in docs/performance.md ("The tricks"):

- ``OPENBLAS_THREAD_TIMEOUT=4``, set when this module loads, before NumPy: OpenBLAS's idle
  threads sleep at once instead of spinning on the cores the next passes need
  (784-1000-784, batch 64: 8.07 to 6.45 ms a step).
- :func:`fast_step`, switched on by :func:`accelerate`: a large parameter's update in pieces of
  ``CHUNK`` numbers, dealt into one share per core (Adam on 784-1000-784 alone: 4.68 to 2.40 ms
  a step; one share per core instead of one task per piece: 2.56 to 2.24 ms), and on the
  calling thread alone when there is less than two pieces' work (a 4-3-4 toy model's step: 168
  to 82 microseconds).
- :func:`flush_subnormals`, every ``FLUSH_EVERY`` steps of :func:`fast_step`: the moments'
  subnormal numbers set to 0 (documents training: Adam 4.37 to 1.41 ms a step).
- :func:`keep_freed_host_memory`: glibc keeps freed memory for the next step's arrays
  (784-1000-784, batch 1024: 2,752 page faults a step to 0, 50.6 to 47.1 ms a step).

``train()`` calls ``keep_freed_host_memory()`` and trains with ``accelerate(get_optimizer(...))``.
"""
import os

# Speed: after each matrix product OpenBLAS's idle threads spin, by default for about 0.1 s, on
# the cores that the elementwise passes and the optimizer's threads need next; 2^4 cycles lets
# them sleep at once (docs/performance.md). OpenBLAS reads this when NumPy loads, so it acts only
# when scratchdae is imported first, as the scratchdae command always is; a value set already wins.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import ctypes
import functools
from concurrent.futures import ThreadPoolExecutor

from .backend import Array, backend_of
from .optim import Optimizer, _check_names

CHUNK = 1 << 17  # numbers per piece of a large parameter's update, the fastest size measured (docs/performance.md)
FLUSH_EVERY = 64  # steps between two flushes of the optimizer state's subnormal numbers (flush_subnormals)
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
_POOL = None


def _workers():
    """One worker thread per core, made on first use (for the elementwise updates of large parameters)."""
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=CORES)
    return _POOL


def fast_step(opt: Optimizer, params: dict[str, Array], grads: dict[str, Array]) -> None:
    """What ``opt.step(params, grads)`` does, to the last bit of every parameter, faster.

    Large NumPy parameters are updated in pieces of ``CHUNK`` numbers shared among the cores, and
    every ``FLUSH_EVERY`` steps the state's subnormal moments are set to 0 (:func:`flush_subnormals`).
    CuPy arrays are updated whole, on the calling thread: the GPU runs each pass in parallel itself.
    """
    _check_names(params, grads)
    opt.t += 1
    pieces = []  # (p, g, state) to update: whole arrays, or pieces of large ones
    for name, p in params.items():
        st = opt._buffers(name, p)
        g = opt._gradient(p, grads[name], st["g"])  # (O3)
        if backend_of(p).name == "cupy" or p.size <= CHUNK or not p.flags.c_contiguous:
            pieces.append((p, g, st))
            continue
        # Speed, not maths: a large parameter is updated in pieces of CHUNK numbers, so that
        # the cores can share the work (below).
        flat = {k: a.reshape(-1) for k, a in st.items()}  # views: the buffers are contiguous
        p_flat, g_flat = p.reshape(-1), g.reshape(-1)  # g from a tied layer is a transposed view: one copy
        pieces += [(p_flat[i:i + CHUNK], g_flat[i:i + CHUNK], {k: a[i:i + CHUNK] for k, a in flat.items()})
                   for i in range(0, p.size, CHUNK)]
    if opt.t % FLUSH_EVERY == 0:
        flush_subnormals(opt)
    n = CORES
    work = sum(job[0].size for job in pieces)
    if n > 1 and work >= 2 * CHUNK and backend_of(next(iter(params.values()))).name == "numpy":
        # enough work to share (handing a share to a thread costs about 0.1 ms): the pieces are
        # independent, and NumPy lets go of Python's lock inside each pass, so every core
        # updates its own share of them (dealt in turn, one task per core, so the threads rarely
        # wait for the lock), and the result is the same to the last bit
        shares = [pieces[i::n] for i in range(n)]
        update = lambda share: [opt._update(*job) for job in share]  # noqa: E731
        others = [_workers().submit(update, share) for share in shares[1:]]
        update(shares[0])  # this thread takes the first share itself
        for done in others:
            done.result()
    else:
        for job in pieces:
            opt._update(*job)


def flush_subnormals(opt: Optimizer) -> None:
    """Set the state's subnormal numbers (nonzero, below the dtype's smallest normal) to 0.

    Speed, not maths: where a unit's gradient stays 0 (a dead ReLU), a moment shrinks by rho
    every step but, in float32, never reaches 0: 0.9 times the smallest subnormal rounds back
    to it. Arithmetic on subnormals is many times slower on x86 CPUs; a documents run spent
    4.4 ms a step in Adam instead of 1.1 ms. The update such a moment makes is far below the
    rounding of any parameter it is added to, so flushing it changes no parameter.
    """
    for st in opt.state.values():
        for k in opt.keys:
            a = st[k]
            xp = backend_of(a).xp
            xp.copyto(a, 0, where=xp.abs(a) < xp.finfo(a.dtype).tiny)


def accelerate(opt: Optimizer) -> Optimizer:
    """Switch ``opt`` onto :func:`fast_step` and return it; calling it again changes nothing.

    Only this instance's ``step`` changes; its settings (``opt.lr`` may still be set each epoch),
    ``opt.t``, :meth:`~scratchdae.optim.Optimizer.state_arrays` and
    :meth:`~scratchdae.optim.Optimizer.load_state_arrays` are the plain optimizer's.
    """
    if not isinstance(opt, Optimizer):
        raise TypeError(f"accelerate takes an optimizer of scratchdae.optim, got {type(opt).__name__}. "
                        "Fix: accelerate(get_optimizer('adam', lr=1e-3)).")
    opt.step = functools.partial(fast_step, opt)
    return opt


_HEAP_KEPT = False


def keep_freed_host_memory() -> None:
    """Speed: let the C library keep freed host memory for the next array instead of giving it back.

    A training step makes a dozen arrays of a few MB and frees them. By default glibc gives
    each one back to the system, and the next step's arrays then fault in every 4 KB page
    afresh: 2,700 page faults a step at batch 1024, 7% of the step (docs/performance.md).
    After this call, arrays up to 64 MB come from the heap and up to 128 MB of freed memory is
    kept for reuse. ``train()`` calls it; where the C library is not glibc it does nothing.
    """
    global _HEAP_KEPT
    if _HEAP_KEPT:
        return
    _HEAP_KEPT = True
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 64 << 20)  # M_MMAP_THRESHOLD: arrays below 64 MB from the heap
        libc.mallopt(-1, 128 << 20)  # M_TRIM_THRESHOLD: keep up to 128 MB of freed memory
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl)
        pass
