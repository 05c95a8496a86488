"""Every package folder is listed in pyproject.toml, so the wheel carries all of Medlytt."""

import tomllib
from pathlib import Path

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
