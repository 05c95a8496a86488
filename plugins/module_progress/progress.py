"""A team's progress with one module: its period, the activities done in it against the
monitoring plan, and the module's measure month by month (pure: no database, no clock).

The method asks for at least ``minimum_months`` (three) per module and for measurements
that are *followed by activity* (DOMAIN.md §1): each month row therefore puts the mean
score of the module's own forms beside the activities done that month.

Planned listenings: the plan's listenings per agent and month times the team's agents times the
share of each calendar month (UTC) that lies in the period so far.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from medlytt import CompetenceModule


def add_months(when: datetime, months: int) -> datetime:
    """The same day ``months`` later (the month's last day when it is shorter)."""
    month = when.month - 1 + months
    year, month = when.year + month // 12, month % 12 + 1
    days = [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28]
    days += [31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    return when.replace(year=year, month=month, day=min(when.day, days[month - 1]))


def months_between(start: datetime, end: datetime) -> list[tuple[datetime, datetime, float]]:
    """The calendar months (UTC) [start, end) touches: (month start, month end, the
    share of that month inside [start, end))."""
    out: list[tuple[datetime, datetime, float]] = []
    month = start.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while month < end:
        following = add_months(month, 1)
        inside = min(end, following) - max(start, month)
        out.append((month, following, max(inside / (following - month), 0.0)))
        month = following
    return out


def module_progress(
    module: CompetenceModule,
    period: dict[str, Any],
    now: datetime,
    agents: list[dict[str, str]],
    plan: dict[str, Any] | None,
    activities: list[dict[str, Any]],
    *,
    per_agent: bool,
) -> dict[str, Any]:
    """The progress row of one module for one team (module docstring)."""
    since = datetime.fromisoformat(period["since"])
    until = datetime.fromisoformat(period["until"]) if period["until"] else None
    end = min(until, now) if until else now
    minimum_on = add_months(since, module.minimum_months)
    forms = set(module.forms)
    kinds: tuple[str, ...] = ("listening", "mystery_call", "calibration", "monitoring", "feedback")
    kinds += tuple(k for k in module.activities if k not in kinds)
    per = plan["per_agent_per_month"] if plan else None
    months = []
    total_planned = 0.0
    for month_start, month_end, share in months_between(since, end):
        rows = [a for a in activities if month_start.isoformat() <= a["at"] < month_end.isoformat()]
        counts = Counter(a["kind"] for a in rows)
        scores = [
            a["score"]
            for a in rows
            if a["kind"] == "listening" and a["form"] in forms and a["score"] is not None
        ]
        planned = per * len(agents) * share if per is not None else None
        total_planned += planned or 0.0
        months.append(
            {
                "month": month_start.strftime("%Y-%m"),
                "activities": {k: counts.get(k, 0) for k in kinds},
                "listenings_planned": round(planned, 1) if planned is not None else None,
                "module_form_listenings": sum(
                    1 for a in rows if a["kind"] == "listening" and a["form"] in forms
                ),
                "mean_score": round(sum(scores) / len(scores), 1) if scores else None,
            }
        )
    counts = Counter(a["kind"] for a in activities)
    row: dict[str, Any] = {
        "module": module.id,
        "number": module.number,
        "title": module.title,
        "titles": module.titles,
        "active": until is None,
        "since": period["since"],
        "until": period["until"],
        "days": round((end - since).total_seconds() / 86400, 1),
        "minimum_months": module.minimum_months,
        "minimum_reached_on": minimum_on.isoformat(),
        "minimum_reached": end >= minimum_on,
        "activities": {k: counts.get(k, 0) for k in kinds},
        "plan": None,
        "months": months,
    }
    if plan is not None:
        done = counts.get("listening", 0)
        planned = round(total_planned, 1)
        row["plan"] = {
            "per_agent_per_month": per,
            "agents": len(agents),
            "listenings_planned": planned,
            "listenings_done": done,
            "share_done": round(done / planned, 3) if planned else None,
        }
    if per_agent:
        done_by = Counter(a["agent_id"] for a in activities if a["kind"] == "listening")
        row["agents"] = [
            {"agent_id": a["agent_id"], "name": a["name"], "listenings": done_by[a["agent_id"]]}
            for a in agents
        ]
    return row
