"""Every package folder and data file is listed in pyproject.toml, so the wheel carries all of
Medlytt; the tests' example plugin stays out of the .venv that ``make run`` serves from."""

import subprocess
import tomllib
from pathlib import Path

from support import MEDLYTT, medlytt_env

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_folder_is_listed():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping = setuptools["package-dir"]
    found = set()
    for package, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join([package, *parts]))
    assert set(setuptools["packages"]) == found
    assert set(mapping) == {"medlytt", "medlytt.plugins", "medlytt.gateways", "medlytt.hardware"}


def test_every_data_file_is_package_data():
    """include-package-data is off: a file the package reads is in the wheel only if listed."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["include-package-data"] is False
    folders = {}
    for package in setuptools["packages"]:
        top = max((p for p in setuptools["package-dir"] if package.startswith(p)), key=len)
        folder = ROOT / setuptools["package-dir"][top] / package[len(top) :].replace(".", "/")[1:]
        folders[folder] = package
    tracked = subprocess.run(
        ["git", "ls-files", *{str(f.relative_to(ROOT)) for f in folders}],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    data = {ROOT / f for f in tracked if not f.endswith(".py")}
    listed = {
        path
        for folder, package in folders.items()
        for key in ("*", package)
        for pattern in setuptools["package-data"].get(key, [])
        for path in folder.glob(pattern)
    }
    assert data, "the Asterisk sandbox's templates at least"
    assert sorted(str(p.relative_to(ROOT)) for p in data - listed) == []


def test_the_venv_make_run_serves_from_does_not_hold_the_example_plugin():
    """The tests install docs/examples/medlytt-longcalls for their session only.

    This session sees it (tests/conftest.py puts it on PYTHONPATH); the .venv alone, as
    ``make run`` uses it, must not: installed there, it would load in every ``medlytt serve``.
    """

    def plugins(env: dict[str, str]) -> set[str]:
        result = subprocess.run(
            [MEDLYTT, "plugins"], env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return {line.split()[0] for line in result.stdout.splitlines()[1:] if line.strip()}

    assert {"demo", "longcalls"} <= plugins(medlytt_env())
    venv_only = {k: v for k, v in medlytt_env().items() if k != "PYTHONPATH"}
    found = plugins(venv_only)
    assert "demo" in found
    assert "longcalls" not in found, (
        "medlytt-longcalls is installed in the .venv: `make install` removes a copy left by an "
        "earlier `make test`; otherwise pip uninstall -y medlytt-longcalls"
    )
