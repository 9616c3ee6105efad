"""Every tutorial runs top to bottom in Jupyter (fast mode), shows its figures, and its .py twin matches.

The tutorials are jupytext percent-format scripts paired with notebooks: the
.py is what a diff shows, the .ipynb what a student opens. Each notebook is
executed here as a student would run it, by a Jupyter kernel (nbclient), in a
fresh folder, with SCRATCHDAE_TUTORIAL_FAST=1 (fewer epochs) and matplotlib's
default backend, which in a kernel is the inline one: every ``plt.show()``
must come back as an image output. An exception or a failed assert inside a
tutorial fails the test.
"""
import os
import re
from pathlib import Path

import pytest

TUTORIALS = sorted((Path(__file__).resolve().parents[1] / "tutorials").glob("[0-9][0-9]_*.py"))


def test_the_four_core_tutorials_are_there():
    assert [t.name[:2] for t in TUTORIALS][:4] == ["01", "02", "03", "04"]


def image_outputs(nb):
    return sum("image/png" in out.get("data", {}) for cell in nb.cells if cell.cell_type == "code"
               for out in cell.get("outputs", []))


@pytest.mark.slow
@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.stem)
def test_notebook_runs_in_jupyter_and_shows_its_figures(path, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("SCRATCHDAE_TUTORIAL_FAST", "1")
    monkeypatch.setenv("SCRATCHDAE_BACKEND", "")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's own default: inline figures
    nb = nbformat.read(path.with_suffix(".ipynb"), as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as err:
        pytest.fail(f"{path.name} failed in Jupyter:\n{str(err)[-3000:]}")
    shows = sum(cell.source.count("plt.show()") for cell in nb.cells if cell.cell_type == "code")
    assert image_outputs(nb) >= shows, (f"{path.name} calls plt.show() {shows} times but the notebook shows "
                                        f"{image_outputs(nb)} images: a backend without inline figures?")


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.stem)
def test_notebook_is_in_sync_with_its_script(path):
    jupytext = pytest.importorskip("jupytext")
    ipynb = path.with_suffix(".ipynb")
    assert ipynb.is_file(), f"{ipynb.name} is missing: run jupytext --sync {path}"
    a, b = jupytext.read(path), jupytext.read(ipynb)
    cells = lambda nb: [(c.cell_type, c.source.strip()) for c in nb.cells]  # noqa: E731
    assert cells(a) == cells(b), f"{ipynb.name} differs from {path.name}: run jupytext --sync {path}"
    assert all(not c.get("outputs") for c in b.cells if c.cell_type == "code"), f"{ipynb.name} has outputs"


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_cites_equations_that_exist(path):
    derivations = (path.parents[1] / "docs" / "derivations.md").read_text(encoding="utf-8")
    defined = set(re.findall(r"\\tag\{([A-Z]{1,2}\d{1,2})\}", derivations))
    cited = set(re.findall(r"\(([A-Z]{1,2}\d{1,2})\)", path.read_text(encoding="utf-8")))
    assert cited, f"{path.name} cites no equation of docs/derivations.md"
    assert cited <= defined, f"{path.name} cites equations that do not exist: {sorted(cited - defined)}"


def test_tutorials_do_not_copy_library_code():
    # a notebook uses the package; it does not define its own layers, losses or optimizers
    for path in TUTORIALS:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^class ", text, re.M), f"{path.name} defines a class: use the package's"


def test_tutorials_readme_lists_every_tutorial():
    readme = (TUTORIALS[0].parent / "README.md").read_text(encoding="utf-8")
    for path in TUTORIALS:
        assert path.stem in readme, f"tutorials/README.md does not list {path.stem}"


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_ends_with_exercises(path):
    text = path.read_text(encoding="utf-8")
    assert "# ## Exercises" in text, f"{path.name} has no Exercises section"
    assert text.index("# ## Exercises") > 0.7 * len(text), f"{path.name}: the exercises belong at the end"


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.stem)
def test_executed_copy_is_the_same_notebook_run_in_full(path):
    # tutorials/executed/ holds each notebook run in full mode, for reading without running
    nbformat = pytest.importorskip("nbformat")
    executed = path.parent / "executed" / path.with_suffix(".ipynb").name
    assert executed.is_file(), f"{executed} is missing: run python tutorials/execute.py {path.name[:2]}"
    source, ran = nbformat.read(path.with_suffix(".ipynb"), as_version=4), nbformat.read(executed, as_version=4)
    cells = lambda nb: [(c.cell_type, c.source.strip()) for c in nb.cells]  # noqa: E731
    assert cells(ran) == cells(source), f"{executed.name} is stale: run python tutorials/execute.py {path.name[:2]}"
    assert ran.metadata.get("scratchdae", {}).get("executed") == "full mode"
    outputs = [o for c in ran.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"], f"{executed.name} holds an error"
    shows = sum(c.source.count("plt.show()") for c in ran.cells if c.cell_type == "code")
    assert image_outputs(ran) >= shows
