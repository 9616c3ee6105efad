"""docs/derivations.md and the code cite each other exactly."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LABEL = r"[A-Z]{1,2}\d{1,2}"


def defined_labels():
    text = (ROOT / "docs" / "derivations.md").read_text(encoding="utf-8")
    labels = re.findall(r"\\tag\{(" + LABEL + r")\}", text)
    assert len(labels) == len(set(labels)), f"labels defined twice: {sorted({x for x in labels if labels.count(x) > 1})}"
    return set(labels)


def cited_labels():
    """Labels cited as (X1) in the package, with the files citing them."""
    cites = {}
    for path in sorted((ROOT / "scratchdae").rglob("*.py")):
        for label in re.findall(r"\((" + LABEL + r")\)", path.read_text(encoding="utf-8")):
            cites.setdefault(label, set()).add(path.relative_to(ROOT).as_posix())
    return cites


def test_every_cited_label_exists():
    missing = {k: v for k, v in cited_labels().items() if k not in defined_labels()}
    assert not missing, f"code cites equations that docs/derivations.md does not define: {missing}"


def test_every_equation_is_cited_by_code():
    uncited = defined_labels() - set(cited_labels())
    assert not uncited, f"equations in docs/derivations.md that no code cites: {sorted(uncited)}"


def test_docstrings_with_backslashes_are_raw():
    # Theano's dA tutorial lost "\tilde" to a TAB: a non-raw docstring turns "\t" into a tab.
    for path in (ROOT / "scratchdae").rglob("*.py"):
        assert "\t" not in path.read_text(encoding="utf-8"), f"{path.name} contains a TAB character"
