"""The house's rules (docs/architecture.md): which way imports point, and how long the files a student reads are."""
import ast
import inspect
import subprocess
import sys
from pathlib import Path

import scratchdae
from scratchdae import loop

PACKAGE = Path(scratchdae.__file__).parent


def imports_of(path):
    """Every module name a file imports, at its top or inside functions, relative imports made absolute."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = list(package[:len(package) - node.level + 1]) if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found |= {module} | {f"{module}.{a.name}" for a in node.names}
    return found


def test_the_core_never_imports_the_documents_application():
    offenders = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in ("documents", "cli"):
            continue
        bad = sorted(m for m in imports_of(path) if m.startswith("scratchdae.documents"))
        if bad:
            offenders[str(rel)] = bad
    assert not offenders, f"the core imports the documents application: {offenders}"


def test_importing_scratchdae_loads_no_documents_module():
    code = "import sys, scratchdae; print(sorted(m for m in sys.modules if 'documents' in m))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]", r.stdout


def test_the_documents_application_is_found_through_its_entry_point():
    code = ("import sys; from scratchdae.tasks import application; app = application('documents'); "
            "print(app.command, 'scratchdae.documents' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.split() == ["scratchdae", "documents", "train", "True"], r.stdout + r.stderr


def test_no_module_is_over_450_lines_and_the_loop_fits_a_screen():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 450}
    assert not long, f"modules over 450 lines: {long}"
    assert len(Path(loop.__file__).read_text().splitlines()) <= 300
    assert len(inspect.getsource(loop.train).splitlines()) <= 80


def test_the_plain_optimizer_step_has_no_speed_code():
    from scratchdae.optim import Optimizer

    source = inspect.getsource(Optimizer.step)
    assert len(source.splitlines()) <= 25 and "Thread" not in source and "CHUNK" not in source


def test_a_module_and_a_function_do_not_share_the_name_a_user_types():
    import importlib

    assert callable(scratchdae.train)
    for name in scratchdae.__all__:
        try:
            importlib.import_module(f"scratchdae.{name}")
        except ImportError:
            continue
        raise AssertionError(f"scratchdae.{name} is both a module and an exported name")


def test_the_python_twins_the_readme_names_are_functions_under_those_names():
    import re

    readme = (PACKAGE.parent / "README.md").read_text()
    twins = re.findall(r"`(scratchdae(?:\.\w+)*)\(\.\.\.\)`", readme.split("Each command has a Python twin")[1][:600])
    assert "scratchdae.train" in twins and len(twins) >= 7, twins
    script = "\n".join(["import importlib, scratchdae, inspect"] + [
        f"m = importlib.import_module({name.rsplit('.', 1)[0]!r}); f = {name}; "
        f"assert inspect.isfunction(f), ({name!r}, f)" for name in twins])
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not (PACKAGE / "train.py").exists()  # scratchdae.train is the function, and no module hides behind it
