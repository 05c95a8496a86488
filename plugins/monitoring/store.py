"""What monitoring keeps: the append-only audit trail (recordings: ``medlytt.recordings``).

Transparency (DOMAIN.md §5): every session and mode change is written down (who, whom,
which call, when, mode, duration) and the agent it concerns can read it.  Rows are only
ever inserted; no route or command updates or deletes them.

The trail is tamper-evident (issue 11): a hash chain kept by Medlytt's chained tables
(:func:`medlytt.chain_table`, :func:`medlytt.append_chained`), checked with the other
audit trails by ``medlytt audit verify`` (docs/monitoring.md, "Audit trail").
"""

from __future__ import annotations

from typing import Any

import sqlite_utils
from medlytt import AuditTrail, Migration, Scope, append_chained, chain_table

AUDIT = "monitoring_audit"
#: What ``medlytt audit verify`` checks (hook ``medlytt_audit_trails``).
TRAIL = AuditTrail("monitoring audit", AUDIT)


def _create_audit(db: sqlite_utils.Database) -> None:
    db.table(AUDIT).create(
        {
            "seq": int,
            "at": str,
            "action": str,  # started | mode_changed | stopped
            "session_id": str,
            "supervisor": str,
            "agent_id": str,
            "call_id": str,
            "mode": str,
            "previous_mode": str,
            "reason": str,
            "duration_seconds": float,
            "recording": int,
        },
        pk="seq",
        if_not_exists=True,
    )
    db.table(AUDIT).create_index(["agent_id", "at"], if_not_exists=True)


def _chain_audit(db: sqlite_utils.Database) -> None:
    """Add the hash chain and chain the rows an older release wrote (re-runnable)."""
    chain_table(db, AUDIT)


MIGRATIONS = [
    Migration("create_monitoring_audit", _create_audit),
    Migration("chain_monitoring_audit", _chain_audit),
]


def append_audit(db: sqlite_utils.Database, row: dict[str, Any]) -> None:
    """Append ``row`` to the chain (one transaction holding the write lock)."""
    append_chained(db, AUDIT, [row])


def audit_rows(db: sqlite_utils.Database, scope: Scope, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` rows about the agents ``scope`` sees."""
    clause, params = scope.sql("agent_id", "at")
    return list(
        db.query(
            f"SELECT * FROM {AUDIT} WHERE {clause} ORDER BY seq DESC LIMIT ?", [*params, limit]
        )
    )


def session_start(db: sqlite_utils.Database, session_id: str) -> dict[str, Any] | None:
    """The ``started`` row of a monitoring session; None for an unknown id."""
    rows = list(
        db.query(
            f"SELECT * FROM {AUDIT} WHERE session_id = ? AND action = 'started' LIMIT 1",
            [session_id],
        )
    )
    return rows[0] if rows else None
