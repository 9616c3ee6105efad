"""The source distribution and the wheel: what they hold and what they say.

The sdist is built once for this module, offline, with the installed
setuptools (through the ``build`` frontend when it is installed, else by
calling the setuptools backend directly), from a copy of the files a fresh
clone would hold: a stale scratchdae.egg-info/SOURCES.txt in the checkout
would otherwise add the files it lists and hide a gap in MANIFEST.in.

Run inside the unpacked sdist, pytest must collect exactly what it collects
here, and the tests that read docs/, tutorials/ and the bundled data must pass
there. A wheel is built from the sdist, as pip would, and its metadata and
data files are checked: licence, project URLs, classifiers, the MNIST sample
with the README that carries its attribution, and the py.typed marker.
"""
import email
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

PROJECT_URLS = {
    "Source": "https://github.com/scratchdae/scratchdae",
    "Documentation": "https://github.com/scratchdae/scratchdae/tree/main/docs",
    "Tracker": "https://github.com/scratchdae/scratchdae/issues",
}
CLASSIFIERS = {
    "License :: OSI Approved :: MIT License",
    "Programming Language :: Python :: 3 :: Only",
    "Programming Language :: Python :: 3.10",
    "Programming Language :: Python :: 3.11",
    "Programming Language :: Python :: 3.12",
    "Programming Language :: Python :: 3.13",
    "Operating System :: OS Independent",
    "Development Status :: 4 - Beta",
    "Intended Audience :: Education",
    "Intended Audience :: Science/Research",
    "Topic :: Scientific/Engineering :: Artificial Intelligence",
    "Typing :: Typed",
}
MNIST_FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "test-images-idx3-ubyte.gz", "test-labels-idx1-ubyte.gz", "README.md"]
# files of the repository that the sdist leaves out on purpose
NOT_SHIPPED = {".gitignore"}
# what a fresh clone lacks: outputs, caches, environments, build products
LOCAL_ONLY = (".git", ".venv*", "*.egg-info", "build", "dist", "runs", "__pycache__", "*.py[cod]",
              ".pytest_cache", ".hypothesis", ".ruff_cache", ".ipynb_checkpoints")
# tests that read files outside the package (docs/, tutorials/, the data's
# README) and are quick: they must pass in the unpacked sdist too
READS_THE_TREE = ["tests/test_derivations.py", "tests/test_tutorials.py", "tests/test_backend_purity.py",
                  "tests/test_exercises.py", "tests/test_data.py::test_bundled_sample_is_the_real_one"]


def clean_env():
    """The environment for a nested run: no options of the outer pytest, no bytecode written."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run(cmd, cwd, timeout=300):
    return subprocess.run(cmd, check=False, cwd=cwd, capture_output=True, text=True, env=clean_env(),
                          timeout=timeout)


def build(kind, source, outdir):
    """Build an sdist or a wheel of the project in ``source`` into ``outdir``, offline; return its path."""
    if importlib.util.find_spec("build") is not None:
        cmd = [PYTHON, "-m", "build", f"--{kind}", "--no-isolation", "--outdir", str(outdir), "."]
    elif importlib.util.find_spec("setuptools") is not None:
        cmd = [PYTHON, "-c", f"import sys, setuptools.build_meta as b; b.build_{kind}(sys.argv[1])", str(outdir)]
    else:
        pytest.skip("neither the 'build' frontend nor setuptools is installed, so no sdist or wheel can be "
                    "built offline: pip install -e '.[test]' installs both")
    r = run(cmd, cwd=source)
    assert r.returncode == 0, f"building the {kind} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    [path] = Path(outdir).glob("*.tar.gz" if kind == "sdist" else "*.whl")
    return path


def git_files(*options):
    """Files of the checkout that git lists (relative paths), or None where there is no git checkout."""
    if not ((ROOT / ".git").exists() and shutil.which("git")):
        return None
    r = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", *options],
                       check=False, capture_output=True, text=True)
    if r.returncode != 0:
        return None
    return {n for n in r.stdout.split("\0") if n and (ROOT / n).is_file()}


def clean_copy(dest):
    """Copy what a fresh clone holds, plus files not yet committed, to ``dest``."""
    names = git_files("--cached", "--others", "--exclude-standard")
    if names is None:  # no git, e.g. inside an unpacked sdist
        shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(*LOCAL_ONLY), dirs_exist_ok=True)
    else:
        for name in names:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


def unpack(sdist, dest):
    with tarfile.open(sdist) as tar:
        if hasattr(tarfile, "data_filter"):  # Python 3.12, and security releases of 3.10 and 3.11
            tar.extractall(dest, filter="data")
        else:
            tar.extractall(dest)
    [tree] = Path(dest).iterdir()
    return tree


@pytest.fixture(scope="module")
def sdist(tmp_path_factory):
    source = clean_copy(tmp_path_factory.mktemp("source"))
    return build("sdist", source, tmp_path_factory.mktemp("sdist"))


@pytest.fixture(scope="module")
def sdist_tree(sdist, tmp_path_factory):
    return unpack(sdist, tmp_path_factory.mktemp("unpacked"))


@pytest.fixture(scope="module")
def sdist_files(sdist):
    with tarfile.open(sdist) as tar:
        return {m.name.split("/", 1)[1] for m in tar.getmembers() if m.isfile()}


@pytest.fixture(scope="module")
def wheel(sdist, tmp_path_factory):
    # from a fresh copy of the sdist, as pip builds it: the wheel must not depend on the checkout
    tree = unpack(sdist, tmp_path_factory.mktemp("for_wheel"))
    return build("wheel", tree, tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def wheel_metadata(wheel):
    with zipfile.ZipFile(wheel) as zf:
        [name] = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(zf.read(name))


def collected(cwd):
    """Collect the test suite in ``cwd`` with this interpreter: (return code, test ids, output)."""
    r = run([PYTHON, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"], cwd=cwd)
    listing = r.stdout.split("\n\n", 1)[0]  # the test ids come first, then a blank line and the summary
    ids = {line.strip() for line in listing.splitlines() if "::" in line}
    return r.returncode, ids, r.stdout[-4000:] + r.stderr[-2000:]


# -- the sdist ---------------------------------------------------------------

def test_sdist_holds_every_file_of_the_repository(sdist_files):
    for name in ["LICENSE", "README.md", "MANIFEST.in", "setup.cfg", "pyproject.toml", "PKG-INFO",
                 "scratchdae/py.typed", "tests/conftest.py", "tests/fake_cupy.py", "docs/derivations.md",
                 "tutorials/README.md", "tutorials/execute.py", "tutorials/exercises/test_exercises.py",
                 "tutorials/solutions/solutions.py"]:
        assert name in sdist_files, f"{name} is not in the sdist: see MANIFEST.in"
    assert {"scratchdae/data/mnist_sample/" + f for f in MNIST_FILES} <= sdist_files
    for d in ["tests", "tutorials", "tutorials/executed"]:
        here = {p.relative_to(ROOT).as_posix() for p in (ROOT / d).iterdir()
                if p.suffix in (".py", ".ipynb", ".md")}
        assert here <= sdist_files, f"missing from the sdist: {sorted(here - sdist_files)}"
    assert not [n for n in sdist_files if "__pycache__" in n or n.endswith(".pyc") or n.startswith("runs/")]
    tracked = git_files("--cached")
    if tracked is not None:
        missing = sorted(tracked - NOT_SHIPPED - sdist_files)
        assert not missing, f"files of the repository missing from the sdist (see MANIFEST.in): {missing}"


@pytest.mark.slow  # collects the whole suite twice: 5 to 15 s
def test_sdist_collects_the_same_tests_as_the_repository(sdist_tree):
    with ThreadPoolExecutor(2) as pool:
        here, there = pool.map(collected, [ROOT, sdist_tree])
    rc, ids, out = here
    assert rc == 0 and ids, f"the repository's own test collection fails, fix that first:\n{out}"
    rc, sdist_ids, out = there
    assert rc == 0, f"collecting the tests inside the unpacked sdist fails:\n{out}"
    assert sdist_ids == ids, (f"missing from the sdist: {sorted(ids - sdist_ids)[:20]}; "
                              f"only in the sdist: {sorted(sdist_ids - ids)[:20]}")


@pytest.mark.slow  # runs part of the suite inside the sdist: 4 to 8 s
def test_tests_that_read_the_tree_pass_inside_the_sdist(sdist_tree):
    r = run([PYTHON, "-c", "import scratchdae; print(scratchdae.__file__)"], cwd=sdist_tree)
    assert Path(r.stdout.strip()).resolve().is_relative_to(sdist_tree.resolve()), \
        f"inside the sdist, scratchdae was imported from {r.stdout.strip()} {r.stderr[-2000:]}"
    r = run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow and not cupy",
             *READS_THE_TREE], cwd=sdist_tree)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]


def test_sdist_metadata(sdist_tree):
    meta = email.message_from_bytes((sdist_tree / "PKG-INFO").read_bytes())
    assert "LICENSE" in meta.get_all("License-File", [])
    assert CLASSIFIERS <= set(meta.get_all("Classifier", []))
    assert dict(u.split(", ", 1) for u in meta.get_all("Project-URL", [])) == PROJECT_URLS


# -- the wheel ---------------------------------------------------------------

def test_wheel_metadata_names_licence_urls_and_classifiers(wheel_metadata):
    meta = wheel_metadata
    assert meta["Name"] == "scratchdae"
    assert "LICENSE" in meta.get_all("License-File", [])
    assert "MIT" in (meta.get("License-Expression") or meta.get("License") or "")
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL", []))
    assert urls == PROJECT_URLS
    missing = CLASSIFIERS - set(meta.get_all("Classifier", []))
    assert not missing, f"classifiers missing from the wheel: {sorted(missing)}"
    assert meta["Requires-Python"] == ">=3.10"
    assert meta.get("Keywords")
    requires = meta.get_all("Requires-Dist", [])
    assert any(r.startswith("numpy") for r in requires) and any(r.startswith("pytest") for r in requires)


def test_wheel_ships_the_licence_the_typed_marker_and_the_attributed_mnist_sample(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        [licence] = [n for n in names if ".dist-info/" in n and n.endswith("/LICENSE")]
        text = zf.read(licence).decode()
        assert "MIT License" in text and "The scratchdae authors" in text
        assert "scratchdae/py.typed" in names
        sample = "scratchdae/data/mnist_sample/"
        assert {sample + f for f in MNIST_FILES} <= names, "the MNIST sample and its README travel together"
        readme = zf.read(sample + "README.md").decode()
        assert "CC BY-SA 3.0" in readme and "LeCun" in readme and "Cortes" in readme
        [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        assert "scratchdae = scratchdae.cli:main" in zf.read(entry_points).decode()
    others = {n.split("/", 1)[0] for n in names} - {"scratchdae"}
    assert len(others) == 1 and others.pop().endswith(".dist-info"), "the wheel holds only the package"
