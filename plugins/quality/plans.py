"""A fair monitoring plan: each agent of a team N listenings a month, at least M live.

Seed 004 asks that monitoring be regular and equal for everyone, and that agents be told
how many and how often.  A plan is per team; its status says per agent what is done this
month, what is still due, and what is *overdue*: behind an even pace through the month
(``floor(N * elapsed share of the month)``), so a leader sees the gap before the month
ends instead of after.  Months are calendar months in UTC.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import msgspec
from medlytt import PositiveInt


class Plan(msgspec.Struct, forbid_unknown_fields=True):
    """The body of ``PUT /api/plans/{team}``."""

    per_agent_per_month: PositiveInt
    live_at_least: int = 0

    def __post_init__(self) -> None:
        if self.per_agent_per_month > 100:
            raise ValueError("per_agent_per_month must be at most 100")
        if not 0 <= self.live_at_least <= self.per_agent_per_month:
            raise ValueError(
                f"live_at_least must be from 0 to per_agent_per_month "
                f"({self.per_agent_per_month}), got {self.live_at_least}"
            )


def month_of(now: datetime) -> tuple[datetime, datetime]:
    """The calendar month (UTC) ``now`` is in: [start, end)."""
    now = now.astimezone(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


def parse_month(text: str) -> datetime:
    """``2026-11`` → the first instant of that month (UTC); ValueError naming the form."""
    try:
        return datetime.strptime(text, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"month must look like 2026-11, got {text!r}") from None


def expected_by(share: float, count: int) -> int:
    """How many of ``count`` should be done when ``share`` of the month has passed."""
    return math.floor(count * min(max(share, 0.0), 1.0) + 1e-9)


def status(
    plan: dict[str, Any],
    agents: list[dict[str, str]],
    done: dict[str, tuple[int, int]],
    month_start: datetime,
    month_end: datetime,
    now: datetime,
) -> dict[str, Any]:
    """Per agent: done/live done, due, overdue (module docstring), for the month
    [month_start, month_end) seen at ``now`` (a month already over expects everything)."""
    share = (now - month_start) / (month_end - month_start)
    per, live = plan["per_agent_per_month"], plan["live_at_least"]
    expected, expected_live = expected_by(share, per), expected_by(share, live)
    rows = []
    for agent in agents:
        total, live_done = done.get(agent["agent_id"], (0, 0))
        rows.append(
            {
                "agent_id": agent["agent_id"],
                "name": agent["name"],
                "done": total,
                "live_done": live_done,
                "due": max(per - total, 0),
                "live_due": max(live - live_done, 0),
                "overdue": max(expected - total, 0),
                "live_overdue": max(expected_live - live_done, 0),
            }
        )
    return {
        "team": plan["team"],
        "month": month_start.strftime("%Y-%m"),
        "per_agent_per_month": per,
        "live_at_least": live,
        "expected_by_now": expected,
        "agents": rows,
        "overdue": sum(r["overdue"] for r in rows),
    }
