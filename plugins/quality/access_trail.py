"""Who read which evaluations: the evaluation-access trail (issue 11; DOMAIN.md §5).

Every read of evaluations through the API (one evaluation, a list, an export, an agent's
own list) appends rows to ``quality_evaluation_access`` before the response is sent: a
transparency record is never best effort, so a read that cannot be recorded is not
answered.  One row per agent whose evaluations were read: when, who (user and role),
the action (``read``, ``list``, ``export``), the evaluation's id (``read``) or the list's
filter and how many of that agent's evaluations came back, and the span of their
``created_at`` (``first_at``, ``last_at``).  A list that found nothing is one row with
``count`` 0 (about the agent asked for, if any).

The table is append-only (triggers) and hash-chained like the monitoring audit, so
``medlytt audit verify`` names a row edited, inserted or deleted by hand.

Who reads the trail (``GET /api/evaluations/access``): admins everything; leaders the
rows about the agents of their teams; an agent the rows about their own evaluations.
Rows are scoped by ``first_at``: on a reused agent id, a row that touched an evaluation
of the person before is shown to leaders and admins only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlite_utils
from medlytt import Actor, AuditTrail, Scope, append_chained, chain_table

ACCESS = "quality_evaluation_access"
#: What ``medlytt audit verify`` checks (hook ``medlytt_audit_trails``).
TRAIL = AuditTrail("evaluation access", ACCESS)
ACTIONS = ("read", "list", "export")
#: The columns an access row shows (``prev_hash`` and ``hash`` are for verification).
FIELDS = (
    "seq",
    "at",
    "user",
    "role",
    "action",
    "evaluation_id",
    "agent_id",
    "count",
    "filter",
    "first_at",
    "last_at",
)


def create(db: sqlite_utils.Database) -> None:
    db.table(ACCESS).create(
        {
            "seq": int,
            "at": str,
            "user": str,
            "role": str,
            "action": str,  # read | list | export
            "evaluation_id": str,  # read: the one evaluation
            "agent_id": str,  # whose evaluations
            "count": int,  # how many of this agent's evaluations were read
            "filter": str,  # list and export: the query, JSON
            "first_at": str,  # created_at of the oldest of them
            "last_at": str,  # and of the newest
        },
        pk="seq",
        if_not_exists=True,
    )
    db.table(ACCESS).create_index(["agent_id", "first_at"], if_not_exists=True)
    chain_table(db, ACCESS, append_only=True)


def entries(
    actor: Actor,
    action: str,
    evaluations: Iterable[dict[str, Any]],
    at: datetime,
    *,
    query: dict[str, str] | None = None,
    asked_agent: str | None = None,
) -> list[dict[str, Any]]:
    """The access rows for ``actor`` having read ``evaluations``: one per agent."""
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
    per_agent: dict[str | None, list[dict[str, Any]]] = {}
    for evaluation in evaluations:
        per_agent.setdefault(evaluation["agent_id"], []).append(evaluation)
    if not per_agent:
        per_agent[asked_agent] = []
    base = {
        "at": at.isoformat(),
        "user": actor.name,
        "role": actor.role,
        "action": action,
        "filter": json.dumps(query, sort_keys=True) if query is not None else None,
    }
    rows = []
    for agent_id, read in sorted(per_agent.items(), key=lambda item: item[0] or ""):
        created = sorted(e["created_at"] for e in read)
        rows.append(
            {
                **base,
                "evaluation_id": read[0]["id"] if action == "read" else None,
                "agent_id": agent_id,
                "count": len(read),
                "first_at": created[0] if created else None,
                "last_at": created[-1] if created else None,
            }
        )
    return rows


def record(db: sqlite_utils.Database, rows: list[dict[str, Any]]) -> None:
    """Append ``rows`` to the chain, all or none (one transaction)."""
    append_chained(db, ACCESS, rows)


def accesses(db: sqlite_utils.Database, scope: Scope, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` access rows about the agents ``scope`` sees."""
    clause, params = scope.sql("agent_id", "first_at")
    fields = ", ".join(f'"{f}"' for f in FIELDS)
    rows = list(
        db.query(
            f"SELECT {fields} FROM {ACCESS} WHERE {clause} ORDER BY seq DESC LIMIT ?",
            [*params, limit],
        )
    )
    for row in rows:
        row["filter"] = json.loads(row["filter"]) if row["filter"] else None
    return rows
