"""Competence module 2 (Telefonteknikk): declared here; the measuring follows."""

from __future__ import annotations

from medlytt import CompetenceModule, hookimpl

MODULE = CompetenceModule(
    id="phone-technique",
    number=2,
    title="Phone technique",
    titles={"nb": "Telefonteknikk"},
    forms=("phone-technique", "phone-technique-nb"),
)


@hookimpl
def medlytt_competence_modules() -> list[CompetenceModule]:
    return [MODULE]
