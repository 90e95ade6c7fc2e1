"""The committed notebooks carry no outputs (they are run by the test suite, not stored executed)."""

from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 8


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_valid_and_has_no_outputs(path):
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a notebook without code"
    for i, c in enumerate(code):
        assert c.get("outputs") == [], f"{path.name}: code cell {i} has outputs (strip them before committing)"
        assert c.get("execution_count") is None, f"{path.name}: code cell {i} has an execution count"
    assert any(c.cell_type == "markdown" and len(c.source) > 200 for c in nb.cells), "no prose"
