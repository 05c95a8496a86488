"""What monitoring keeps: the append-only audit trail (recordings: ``medlytt.recordings``).

Transparency (DOMAIN.md §5): every session and mode change is written down (who, whom,
which call, when, mode, duration) and the agent it concerns can read it.  Rows are only
ever inserted; no route or command updates or deletes them.

The trail is tamper-evident (issue 11): every row stores ``prev_hash``, the ``hash`` of the
row before it (:data:`GENESIS` for the first), and its own ``hash``, SHA-256 over
:func:`canonical` (every column but ``hash``, ``seq`` and ``prev_hash`` included).  The
one-row table ``monitoring_audit_head`` holds the last ``seq``, its hash and the number of
rows, updated in the same transaction, so that rows cut off the end are noticed too.
:func:`verify` checks all of it (``medlytt audit verify``).  The chain is not keyed: it
catches rows changed, inserted or deleted by hand, not someone who rewrites every hash and
the head (docs/monitoring.md, "Audit trail").
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

import sqlite_utils
from medlytt import Migration, Scope, transaction

log = logging.getLogger(__name__)

AUDIT = "monitoring_audit"
HEAD = "monitoring_audit_head"
#: The ``prev_hash`` of the first row.
GENESIS = "0" * 64


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
    """Add ``prev_hash``, ``hash`` and the head table; chain the rows already there, in
    ``seq`` order.  One transaction, and safe to re-run: only rows without a hash are
    chained, each from the hash of the row before it."""
    with transaction(db, immediate=True):
        columns = {row[1] for row in db.execute(f"PRAGMA table_info({AUDIT})")}
        for column in ("prev_hash", "hash"):
            if column not in columns:
                db.execute(f"ALTER TABLE {AUDIT} ADD COLUMN {column} TEXT")
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {HEAD} (id INTEGER PRIMARY KEY CHECK (id = 1), "
            "seq INTEGER NOT NULL, hash TEXT NOT NULL, rows INTEGER NOT NULL)"
        )
        last_seq, last_hash, count = 0, GENESIS, 0
        for row in list(db.query(f"SELECT * FROM {AUDIT} ORDER BY seq")):
            if row["hash"] is None:
                row["prev_hash"] = last_hash
                row["hash"] = row_hash(row)
                db.execute(
                    f"UPDATE {AUDIT} SET prev_hash = ?, hash = ? WHERE seq = ?",
                    [row["prev_hash"], row["hash"], row["seq"]],
                )
            last_seq, last_hash, count = row["seq"], row["hash"], count + 1
        db.execute(
            f"INSERT OR REPLACE INTO {HEAD} (id, seq, hash, rows) VALUES (1, ?, ?, ?)",
            [last_seq, last_hash, count],
        )


MIGRATIONS = [
    Migration("create_monitoring_audit", _create_audit),
    Migration("chain_monitoring_audit", _chain_audit),
]


def canonical(row: dict[str, Any]) -> bytes:
    """What a row's hash covers: JSON of every column but ``hash``, keys sorted, no spaces.

    NULL columns are left out, so a column added by a later migration leaves the hashes of
    the rows before it valid.
    """
    fields = {key: value for key, value in row.items() if key != "hash" and value is not None}
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def row_hash(row: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(row)).hexdigest()


def append_audit(db: sqlite_utils.Database, row: dict[str, Any]) -> None:
    """Append ``row`` to the chain: reading the head, inserting and moving the head are one
    transaction holding the write lock, so two appends never chain from the same row.

    The hash is computed over the row as SQLite stored it (read back inside the
    transaction), so that :func:`verify` sees exactly the values that were hashed.
    """
    with transaction(db, immediate=True):
        head = _head(db)
        if head is None:  # the head row was deleted: go on from the last row there is
            log.warning("%s has no head row; chaining from the last row of %s", HEAD, AUDIT)
            last = list(db.query(f"SELECT seq, hash FROM {AUDIT} ORDER BY seq DESC LIMIT 1"))
            count = db.execute(f"SELECT count(*) FROM {AUDIT}").fetchone()[0]
            head = {**(last[0] if last else {"seq": 0, "hash": GENESIS}), "rows": count}
        # After the head: a row forged beyond it keeps its seq, and stays a break in the chain.
        (top,) = db.execute(f"SELECT coalesce(max(seq), 0) FROM {AUDIT}").fetchone()
        full = {**row, "seq": max(head["seq"], top) + 1, "prev_hash": head["hash"]}
        columns = ", ".join(full)
        values = ", ".join(f":{key}" for key in full)
        db.execute(f"INSERT INTO {AUDIT} ({columns}) VALUES ({values})", full)
        (stored,) = db.query(f"SELECT * FROM {AUDIT} WHERE seq = ?", [full["seq"]])
        digest = row_hash(stored)
        db.execute(f"UPDATE {AUDIT} SET hash = ? WHERE seq = ?", [digest, full["seq"]])
        db.execute(
            f"INSERT OR REPLACE INTO {HEAD} (id, seq, hash, rows) VALUES (1, ?, ?, ?)",
            [full["seq"], digest, head["rows"] + 1],
        )


def _head(db: sqlite_utils.Database) -> dict[str, Any] | None:
    rows = list(db.query(f"SELECT seq, hash, rows FROM {HEAD} WHERE id = 1"))
    return rows[0] if rows else None


def audit_rows(db: sqlite_utils.Database, scope: Scope, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` rows about the agents ``scope`` sees."""
    clause, params = scope.sql("agent_id", "at")
    return list(
        db.query(
            f"SELECT * FROM {AUDIT} WHERE {clause} ORDER BY seq DESC LIMIT ?", [*params, limit]
        )
    )


@dataclass(frozen=True)
class Problem:
    """One break in the audit trail, at row ``seq`` (``None``: the trail as a whole)."""

    seq: int | None
    what: str

    def __str__(self) -> str:
        return self.what if self.seq is None else f"seq {self.seq}: {self.what}"


def verify(db: sqlite_utils.Database) -> list[Problem]:
    """Every break in the hash chain and the head, in ``seq`` order; ``[]`` when intact.

    A changed row no longer matches its hash; an inserted row breaks the chain (its
    ``prev_hash``, or the next row's, is not the hash before it) or the numbering; a deleted
    row leaves a gap in ``seq``; rows cut off the end or added after it disagree with the
    head.  Reads one snapshot (a read transaction: it never blocks the server's writes),
    so appends meanwhile do not confuse it.
    """
    with transaction(db, immediate=False):
        if not db.table(AUDIT).exists():
            return [Problem(None, f"no table {AUDIT}: the monitoring plugin never ran here")]
        if not {"prev_hash", "hash"} <= set(db.table(AUDIT).columns_dict):
            return [Problem(None, "not chained yet: start Medlytt once to upgrade the database")]
        rows = list(db.query(f"SELECT * FROM {AUDIT} ORDER BY seq"))
        head = _head(db)
    problems: list[Problem] = []
    prev_seq, prev_hash = 0, GENESIS
    for row in rows:
        seq = row["seq"]
        if seq != prev_seq + 1:
            first = "seq 1" if prev_seq == 0 else f"seq {prev_seq}"
            missing = f"seq {prev_seq + 1}" + (f" to {seq - 1}" if seq - 1 > prev_seq + 1 else "")
            problems.append(Problem(seq, f"follows {first}: {missing} missing (deleted?)"))
        elif row["prev_hash"] != prev_hash:
            before = "the genesis value" if prev_seq == 0 else f"the hash of seq {prev_seq}"
            problems.append(
                Problem(seq, f"prev_hash is not {before}: a row inserted, removed or rewritten")
            )
        if row["hash"] != row_hash(row):
            problems.append(Problem(seq, "hash mismatch: the row was changed after it was written"))
        prev_seq, prev_hash = seq, row["hash"]
    problems.extend(_check_head(head, len(rows), prev_seq, prev_hash))
    return problems


def _check_head(head: dict[str, Any] | None, count: int, seq: int, digest: str) -> list[Problem]:
    """The head against the last row (``seq``, ``digest``) and the number of rows."""
    if head is None:
        return [Problem(seq, f"{HEAD} has no row: the end of the trail cannot be checked")]
    if head["seq"] > seq:
        return [
            Problem(
                head["seq"],
                f"missing: the trail should end at seq {head['seq']} but ends at seq {seq} "
                "(rows deleted from the end)",
            )
        ]
    if head["seq"] < seq:
        return [
            Problem(
                head["seq"] + 1,
                f"added after the recorded end of the trail (seq {head['seq']}): forged?",
            )
        ]
    problems = []
    if head["hash"] != digest:
        problems.append(Problem(seq, "hash differs from the one recorded for the end of the trail"))
    if head["rows"] != count:
        problems.append(Problem(None, f"{count} rows, but {head['rows']} were written"))
    return problems


def session_start(db: sqlite_utils.Database, session_id: str) -> dict[str, Any] | None:
    """The ``started`` row of a monitoring session; None for an unknown id."""
    rows = list(
        db.query(
            f"SELECT * FROM {AUDIT} WHERE session_id = ? AND action = 'started' LIMIT 1",
            [session_id],
        )
    )
    return rows[0] if rows else None


def audit_count(db: sqlite_utils.Database) -> int:
    (count,) = db.execute(f"SELECT count(*) FROM {AUDIT}").fetchone()
    return int(count)
