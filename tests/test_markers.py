"""``make test-unit`` (``pytest -m "not asterisk and not prometheus"``) leaves out exactly the
tests that need a real Asterisk or Prometheus, and a misspelt marker is an error, not a test
that silently never runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support import ROOT

#: A plugin for the child pytest: every collected test's id and marker names, as JSON.
MARKS_PLUGIN = """\
import json, os

def pytest_collection_finish(session):
    marks = {i.nodeid: sorted({m.name for m in i.iter_markers()}) for i in session.items}
    with open(os.environ["MARKS_OUT"], "w") as out:
        json.dump(marks, out)
"""


def pytest_run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_folders_decide_the_markers(tmp_path: Path):
    (tmp_path / "record_marks.py").write_text(MARKS_PLUGIN)
    out = tmp_path / "marks.json"
    pythonpath = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    result = pytest_run(
        "--collect-only", "-q", "-p", "record_marks", MARKS_OUT=str(out), PYTHONPATH=pythonpath
    )
    assert result.returncode == 0, result.stdout + result.stderr
    marks = json.loads(out.read_text())
    for folder in ("asterisk", "prometheus"):
        inside = {n for n in marks if n.startswith(f"tests/{folder}/")}
        assert inside, f"no test collected in tests/{folder}"
        assert {n for n, names in marks.items() if folder in names} == inside
    unit = [n for n, names in marks.items() if not {"asterisk", "prometheus"} & set(names)]
    assert len(unit) > len(marks) / 2, "most tests need no real component"


def test_a_misspelt_marker_is_an_error(tmp_path: Path):
    (tmp_path / "test_typo.py").write_text(
        "import pytest\n\n\n@pytest.mark.asterix\ndef test_it():\n    pass\n"
    )
    result = pytest_run(
        "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path), str(tmp_path)
    )
    assert result.returncode != 0
    assert "'asterix' not found in `markers` configuration option" in result.stdout + result.stderr
