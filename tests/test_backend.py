"""The backend switch: names, environment variable, the CuPy error, generators."""
import platform
import subprocess
import sys

import numpy as np
import pytest

from scratchdae import Autoencoder, BackendUnavailable, available_backends, get_backend, to_host
from scratchdae.backend import backend_of


def test_numpy_by_default_and_by_name(monkeypatch):
    monkeypatch.delenv("SCRATCHDAE_BACKEND", raising=False)
    assert get_backend().name == "numpy"
    assert get_backend("NumPy").xp is np


def test_environment_variable_chooses(monkeypatch):
    monkeypatch.setenv("SCRATCHDAE_BACKEND", "auto")
    assert get_backend().name == available_backends()[-1]
    monkeypatch.setenv("SCRATCHDAE_BACKEND", "tpu")
    with pytest.raises(ValueError, match="unknown backend 'tpu' \\(from the environment variable SCRATCHDAE_BACKEND\\)"):
        get_backend()


def test_argument_beats_environment(monkeypatch):
    monkeypatch.setenv("SCRATCHDAE_BACKEND", "cupy")
    assert Autoencoder(4, 2, backend="numpy").backend.name == "numpy"


@pytest.mark.skipif("cupy" in available_backends(), reason="this machine has a usable GPU")
def test_cupy_without_gpu_is_one_clear_error():
    with pytest.raises(BackendUnavailable, match=r"cupy backend was asked for.*pip install 'scratchdae\[cuda12\]'"):
        get_backend("cupy")
    assert get_backend("auto").name == "numpy"


@pytest.mark.skipif("cupy" in available_backends(), reason="this machine has a usable GPU")
def test_cli_reports_missing_cupy_without_traceback():
    r = subprocess.run([sys.executable, "-m", "scratchdae.cli", "gradcheck", "--backend", "cupy"],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "scratchdae[cuda12]" in r.stderr and "Traceback" not in r.stderr


def test_generators_are_seeded_and_draw_float32(backend):
    a = backend.rng(5).standard_normal((3, 4), dtype="float32")
    b = backend.rng(5).standard_normal((3, 4), dtype="float32")
    assert a.dtype == np.float32
    np.testing.assert_array_equal(to_host(a), to_host(b))


def test_host_device_round_trip(backend):
    host = np.arange(6, dtype=np.float32).reshape(2, 3)
    dev = backend.asarray(host)
    assert backend_of(dev) == backend
    np.testing.assert_array_equal(to_host(dev), host)
    assert isinstance(to_host(dev), np.ndarray)


def test_numpy_only_install_imports_without_cupy():
    code = ("import sys; sys.modules['cupy'] = None; import scratchdae; "
            "print(scratchdae.available_backends())")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "['numpy']"


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="the setting is glibc's")
def test_freed_host_memory_is_reused_without_page_faults():
    # a training step frees and makes again a dozen arrays of a few MB; once train() has asked glibc to
    # keep freed memory, making such an array again touches pages already mapped (no page faults)
    import resource

    from scratchdae.fast import keep_freed_host_memory

    keep_freed_host_memory()
    keep_freed_host_memory()  # a second call changes nothing

    def step():
        arrays = [np.ones(1 << 20, np.float32) for _ in range(4)]  # four arrays of 4 MB, as a step makes
        del arrays

    step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        step()  # without the setting: about 40,000 page faults (each array's 1,000 pages afresh)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before < 2000
