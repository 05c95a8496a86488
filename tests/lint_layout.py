"""Check Medlytt's import contracts and types on the package as Python sees it.

``make lint`` runs ``python tests/lint_layout.py imports`` (the contracts in
``[tool.importlinter]`` of pyproject.toml) and ``python tests/lint_layout.py types``
(mypy over core, plugins and gateways); ``tests/test_import_contracts.py`` runs the
first on a tree with a deliberate violation to show that a contract can fail.

Why a script: the installed package maps ``medlytt`` to ``core/`` and its subpackages to
``plugins/``, ``gateways/`` and ``hardware/`` (setuptools ``package-dir``), and both
import-linter and mypy find a package's modules by walking the one folder its
``__init__`` is in.  So the script lays the package out as Python sees it, in a scratch
folder (with the example third-party plugin as ``medlytt_longcalls``), checks that copy,
and names the original files in what it prints.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Where each folder of the repository sits in the import layout.
LAYOUT = {
    "medlytt/plugins": ROOT / "plugins",
    "medlytt/gateways": ROOT / "gateways",
    "medlytt/hardware": ROOT / "hardware",
    "medlytt_longcalls": ROOT / "docs/examples/medlytt-longcalls/medlytt_longcalls",
    "medlytt": ROOT / "core",  # last: the most general prefix when mapping paths back
}


def lay_out(target: Path, extra: dict[str, str]) -> None:
    """Copy the sources into ``target`` as the import system sees them."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name, source in reversed(LAYOUT.items()):
        shutil.copytree(source, target / name, ignore=ignore, dirs_exist_ok=True)
    for path, text in extra.items():
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        (target / path).write_text(text)


def _original_paths(text: str) -> str:
    """Name the repository's files instead of their scratch copies."""
    for name, source in LAYOUT.items():
        text = text.replace(f"{name}/", f"{source.relative_to(ROOT)}/")
    return text


def _tool(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def check(kind: str, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the import contracts (``imports``) or mypy (``types``) on a laid-out copy."""
    with tempfile.TemporaryDirectory(prefix="medlytt-lint-") as folder:
        tree = Path(folder)
        lay_out(tree, extra or {})
        env = {**os.environ, "PYTHONPATH": str(tree)}
        if kind == "imports":
            command = [
                _tool("lint-imports"),
                "--no-cache",
                "--no-logo",
                str(ROOT / "pyproject.toml"),
            ]
        else:
            command = [
                _tool("mypy"),
                "--config-file",
                str(ROOT / "pyproject.toml"),
                "--cache-dir",
                str(tree / ".mypy_cache"),
                "-p",
                "medlytt",
            ]
        result = subprocess.run(
            command, cwd=tree, env=env, capture_output=True, text=True, timeout=600
        )
        result.stdout = _original_paths(result.stdout)
        return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["imports", "types"])
    parser.add_argument("--extra", action="append", default=[], metavar="PATH=TEXT")
    args = parser.parse_args()
    result = check(args.kind, dict(item.split("=", 1) for item in args.extra))
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
