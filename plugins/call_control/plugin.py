"""Competence module 3 (Samtalestyring): declared here; the measuring follows."""

from __future__ import annotations

from medlytt import CompetenceModule, hookimpl

MODULE = CompetenceModule(
    id="call-control",
    number=3,
    title="Call control",
    titles={"nb": "Samtalestyring"},
    forms=("call-control", "call-control-nb"),
)


@hookimpl
def medlytt_competence_modules() -> list[CompetenceModule]:
    return [MODULE]
