"""The module's forms, shipped as TOML in ``forms/`` (the format of docs/method-forms.md),
so a center can read and propose changes to them without reading code."""

from __future__ import annotations

import tomllib
from importlib import resources

import msgspec
from medlytt import EvaluationForm


def shipped_forms() -> list[EvaluationForm]:
    """Every ``forms/*.toml``, English before its translations."""
    folder = resources.files(__package__ or __name__.rpartition(".")[0]) / "forms"
    files = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".toml")),
        key=lambda entry: entry.name,
    )
    return [
        msgspec.convert(tomllib.loads(entry.read_text(encoding="utf-8")), EvaluationForm)
        for entry in files
    ]
