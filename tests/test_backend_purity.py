"""The compute path runs on CuPy unchanged: no compute module calls NumPy.

This machine has no GPU, so the CuPy tests skip here. What would break on
CuPy is a NumPy call in the compute path (``np.zeros``, ``np.random``,
``np.asarray`` of a device array). So the compute modules may not import
NumPy at all; they get ``xp`` from the backend. Host code (the backend
itself, data files, checkpoints, figures, the command line) may.
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "scratchdae"
COMPUTE = ["activations.py", "layers.py", "model.py", "losses.py", "corruption.py", "optim.py",
           "gradient_check.py", "validation.py", "probe.py"]


@pytest.mark.parametrize("name", COMPUTE)
def test_compute_module_never_imports_numpy(name):
    tree = ast.parse((PACKAGE / name).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not any(a.name.split(".")[0] in ("numpy", "cupy") for a in node.names), \
                f"{name} line {node.lineno} imports NumPy/CuPy; take xp from scratchdae.backend instead"
        if isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] not in ("numpy", "cupy"), \
                f"{name} line {node.lineno} imports from NumPy/CuPy; take xp from scratchdae.backend instead"
        if isinstance(node, ast.Name):
            assert node.id not in ("np", "numpy", "cupy", "cp"), \
                f"{name} line {node.lineno} uses {node.id!r}; use backend_of(x).xp instead"


def test_no_module_imports_cupy_at_import_time():
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:  # module level only: CuPy is imported lazily, inside functions
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.split(".")[0] == "cupy" for n in names), f"{path.name} imports cupy at module level"
