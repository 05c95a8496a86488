"""The console's "Module progress" page: per team the caller may see, each module's period,
whether the method's minimum months are reached, and the activities against the plan.

Rendered on the server from the same figures as ``GET /api/progress`` (the leaders' view
with per-agent listenings, an agent's view without), so the page shows nothing the API
would not show the same person.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from markupsafe import escape
from medlytt import Actor, all_teams, medlytt_of

from .api import _leads, _member
from .service import PLUGIN, ProgressService

KINDS = ("listening", "mystery_call", "calibration", "monitoring", "feedback")
LABELS = {
    "en": {
        "module": "Module",
        "since": "On since",
        "minimum": "Minimum reached",
        "plan": "Listenings done / planned",
        "none": "No team to show.",
        "off": "never switched on",
        "yes": "yes",
        "no": "no, on",
        "listening": "Listenings",
        "mystery_call": "Mystery calls",
        "calibration": "Calibrations",
        "monitoring": "Monitoring sessions",
        "feedback": "Feedback answered",
        "team": "Team",
    },
    "nb": {
        "module": "Modul",
        "since": "På siden",
        "minimum": "Minstetid nådd",
        "plan": "Medlyttinger gjort / planlagt",
        "none": "Ingen team å vise.",
        "off": "aldri slått på",
        "yes": "ja",
        "no": "nei, den",
        "listening": "Medlyttinger",
        "mystery_call": "Mystery calls",
        "calibration": "Kalibreringer",
        "monitoring": "Medlyttingsøkter",
        "feedback": "Tilbakemeldinger besvart",
        "team": "Team",
    },
}


def _language(request: web.Request) -> str:
    wanted = request.headers.get("Accept-Language", "")
    return "nb" if wanted[:2] in ("nb", "no", "nn") else "en"


def _row(module: dict[str, Any], text: dict[str, str], language: str) -> str:
    title = module["titles"].get(language) or module["title"]
    head = f"<th scope='row'>{module['number']}. {escape(title)}</th>"
    if module.get("period") is None and "since" not in module:
        return head + f"<td colspan='{3 + len(KINDS)}'>{escape(text['off'])}</td>"
    since = escape(module["since"][:10]) + (
        "" if module["active"] else f" &ndash; {escape(module['until'][:10])}"
    )
    reached = (
        text["yes"]
        if module["minimum_reached"]
        else f"{text['no']} {escape(module['minimum_reached_on'][:10])}"
    )
    plan = module.get("plan")
    planned = (
        f"{plan['listenings_done']} / {plan['listenings_planned']:.0f}"
        if plan and plan.get("listenings_planned") is not None
        else "&ndash;"
    )
    counts = "".join(f"<td>{module['activities'].get(kind, 0)}</td>" for kind in KINDS)
    return head + f"<td>{since}</td><td>{escape(reached)}</td><td>{escape(planned)}</td>{counts}"


async def render(request: web.Request, actor: Actor) -> str:
    app = medlytt_of(request)
    service: ProgressService | None = app.plugin_state.get(PLUGIN)
    language = _language(request)
    text = LABELS[language]
    teams = [t for t in await all_teams(app) if _leads(actor, t) or _member(actor, t)]
    if service is None or not teams:
        return f"<p>{escape(text['none'])}</p>"
    await service.catch_up()
    parts = []
    header = "".join(
        f"<th scope='col'>{escape(text[k])}</th>"
        for k in ("module", "since", "minimum", "plan", *KINDS)
    )
    for team in teams:
        progress = await service.team_progress(team, per_agent=_leads(actor, team))
        rows = "".join(f"<tr>{_row(m, text, language)}</tr>" for m in progress["modules"])
        note = f"<p>{escape(progress['plan_note'])}</p>" if "plan_note" in progress else ""
        parts.append(
            f"<section aria-labelledby='team-{escape(team)}'>"
            f"<h2 id='team-{escape(team)}'>{escape(text['team'])} {escape(team)}</h2>{note}"
            f"<table class='progress'><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>"
            "</section>"
        )
    return "".join(parts)
