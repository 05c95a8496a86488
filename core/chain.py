"""Hash-chained, append-only tables: the tamper-evident audit trails (issue 11).

A transparency record (who listened to whom, who heard a recording, who read an
evaluation) is worth little if someone with the database file can quietly change it.  So
every trail table is chained: each row stores ``prev_hash``, the ``hash`` of the row before
it (:data:`GENESIS` for the first), and its own ``hash``, SHA-256 over :func:`canonical`
(every column but ``hash``, ``seq`` and ``prev_hash`` included).  A one-row table
``<table>_head`` holds the last ``seq``, its hash and the number of rows, updated in the
same transaction, so rows cut off the end are noticed too.  :func:`verify_chain` checks it
all (``medlytt audit verify``, which finds every trail through :class:`AuditTrail` and
the hook ``medlytt_audit_trails``).

The chain is not keyed: it catches rows changed, inserted or deleted by hand, not someone
who rewrites every hash and the head (docs/security.md, "Audit trails").
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from .storage import transaction

log = logging.getLogger(__name__)

#: The ``prev_hash`` of a trail's first row.
GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditTrail:
    """A hash-chained table that ``medlytt audit verify`` checks.

    ``name`` is what the command's lines start with (``"evaluation access"``); ``table``
    a table made with :func:`chain_table` and written only with :func:`append_chained`.
    """

    name: str
    table: str


@dataclass(frozen=True)
class ChainProblem:
    """One break in a trail, at row ``seq`` (``None``: the trail as a whole)."""

    seq: int | None
    what: str

    def __str__(self) -> str:
        return self.what if self.seq is None else f"seq {self.seq}: {self.what}"


def head_table(table: str) -> str:
    """The one-row table holding the end of ``table``'s chain."""
    return f"{table}_head"


def canonical(row: dict[str, Any]) -> bytes:
    """What a row's hash covers: JSON of every column but ``hash``, keys sorted, no spaces.

    NULL columns are left out, so a column added by a later migration leaves the hashes of
    the rows before it valid.
    """
    fields = {key: value for key, value in row.items() if key != "hash" and value is not None}
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def row_hash(row: dict[str, Any]) -> str:
    """The ``hash`` a stored row must carry."""
    return hashlib.sha256(canonical(row)).hexdigest()


def _append_only(db: sqlite_utils.Database, table: str) -> None:
    """Triggers refusing deletes and updates, but for the one update that gives a row
    without a hash its hash (:func:`append_chained`), so no code of Medlytt's can rewrite
    the trail."""
    db.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
    db.execute(
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        "WHEN OLD.hash IS NOT NULL OR NEW.hash IS NULL "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
    )
    db.execute(
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
    )


def chain_table(db: sqlite_utils.Database, table: str, *, append_only: bool = False) -> None:
    """A migration step: add ``prev_hash``, ``hash`` and the head table to ``table`` (which
    has an integer primary key ``seq``), and chain the rows already there in ``seq`` order.

    One transaction, and safe to re-run: only rows without a hash are chained, each from
    the hash of the row before it.  ``append_only`` adds triggers that refuse deletes and
    updates of chained rows (replacing a plain ``<table>_no_update`` trigger, which would
    refuse chaining the old rows).
    """
    with transaction(db, immediate=True):
        columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        for column in ("prev_hash", "hash"):
            if column not in columns:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")
        if append_only:
            db.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
        head = head_table(table)
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {head} (id INTEGER PRIMARY KEY CHECK (id = 1), "
            "seq INTEGER NOT NULL, hash TEXT NOT NULL, rows INTEGER NOT NULL)"
        )
        last_seq, last_hash, count = 0, GENESIS, 0
        for row in list(db.query(f"SELECT * FROM {table} ORDER BY seq")):
            if row["hash"] is None:
                row["prev_hash"] = last_hash
                row["hash"] = row_hash(row)
                db.execute(
                    f"UPDATE {table} SET prev_hash = ?, hash = ? WHERE seq = ?",
                    [row["prev_hash"], row["hash"], row["seq"]],
                )
            last_seq, last_hash, count = row["seq"], row["hash"], count + 1
        db.execute(
            f"INSERT OR REPLACE INTO {head} (id, seq, hash, rows) VALUES (1, ?, ?, ?)",
            [last_seq, last_hash, count],
        )
        if append_only:
            _append_only(db, table)


def append_chained(db: sqlite_utils.Database, table: str, rows: Iterable[dict[str, Any]]) -> None:
    """Append ``rows`` to ``table``'s chain, in order, in one transaction holding the write
    lock (reading the head, inserting, moving the head), so two appends never chain from
    the same row, and a failure leaves none of them written.

    Each hash is computed over the row as SQLite stored it (read back inside the
    transaction), so that :func:`verify_chain` sees exactly the values that were hashed.
    """
    head_name = head_table(table)
    with transaction(db, immediate=True):
        head = _head(db, table)
        if head is None:  # the head row was deleted: go on from the last row there is
            log.warning("%s has no head row; chaining from the last row of %s", head_name, table)
            last = list(db.query(f"SELECT seq, hash FROM {table} ORDER BY seq DESC LIMIT 1"))
            count = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            head = {**(last[0] if last else {"seq": 0, "hash": GENESIS}), "rows": count}
        # After the head: a row forged beyond it keeps its seq, and stays a break in the chain.
        (top,) = db.execute(f"SELECT coalesce(max(seq), 0) FROM {table}").fetchone()
        seq, digest, count = max(head["seq"], top), head["hash"], head["rows"]
        for row in rows:
            seq += 1
            full = {**row, "seq": seq, "prev_hash": digest}
            columns = ", ".join(full)
            values = ", ".join(f":{key}" for key in full)
            db.execute(f"INSERT INTO {table} ({columns}) VALUES ({values})", full)
            (stored,) = db.query(f"SELECT * FROM {table} WHERE seq = ?", [seq])
            digest = row_hash(stored)
            db.execute(f"UPDATE {table} SET hash = ? WHERE seq = ?", [digest, seq])
            count += 1
        db.execute(
            f"INSERT OR REPLACE INTO {head_name} (id, seq, hash, rows) VALUES (1, ?, ?, ?)",
            [seq, digest, count],
        )


def _head(db: sqlite_utils.Database, table: str) -> dict[str, Any] | None:
    rows = list(db.query(f"SELECT seq, hash, rows FROM {head_table(table)} WHERE id = 1"))
    return rows[0] if rows else None


def chain_count(db: sqlite_utils.Database, table: str) -> int:
    """How many rows ``table`` holds."""
    (count,) = db.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(count)


def verify_chain(db: sqlite_utils.Database, table: str) -> list[ChainProblem]:
    """Every break in ``table``'s hash chain and head, in ``seq`` order; ``[]`` when intact.

    A changed row no longer matches its hash; an inserted row breaks the chain (its
    ``prev_hash``, or the next row's, is not the hash before it) or the numbering; a deleted
    row leaves a gap in ``seq``; rows cut off the end or added after it disagree with the
    head.  Reads one snapshot (a read transaction: it never blocks the server's writes),
    so appends meanwhile do not confuse it.
    """
    with transaction(db, immediate=False):
        if not db.table(table).exists():
            return [
                ChainProblem(
                    None,
                    f"no table {table}: dropped, or Medlytt has not run since it was added "
                    "(start it once)",
                )
            ]
        if not {"prev_hash", "hash"} <= set(db.table(table).columns_dict):
            return [
                ChainProblem(None, "not chained yet: start Medlytt once to upgrade the database")
            ]
        rows = list(db.query(f"SELECT * FROM {table} ORDER BY seq"))
        head = _head(db, table) if db.table(head_table(table)).exists() else None
    problems: list[ChainProblem] = []
    prev_seq, prev_hash = 0, GENESIS
    for row in rows:
        seq = row["seq"]
        if seq != prev_seq + 1:
            first = "seq 1" if prev_seq == 0 else f"seq {prev_seq}"
            missing = f"seq {prev_seq + 1}" + (f" to {seq - 1}" if seq - 1 > prev_seq + 1 else "")
            problems.append(ChainProblem(seq, f"follows {first}: {missing} missing (deleted?)"))
        elif row["prev_hash"] != prev_hash:
            before = "the genesis value" if prev_seq == 0 else f"the hash of seq {prev_seq}"
            problems.append(
                ChainProblem(
                    seq, f"prev_hash is not {before}: a row inserted, removed or rewritten"
                )
            )
        if row["hash"] != row_hash(row):
            problems.append(
                ChainProblem(seq, "hash mismatch: the row was changed after it was written")
            )
        prev_seq, prev_hash = seq, row["hash"]
    problems.extend(_check_head(table, head, len(rows), prev_seq, prev_hash))
    return problems


def _check_head(
    table: str, head: dict[str, Any] | None, count: int, seq: int, digest: str
) -> list[ChainProblem]:
    """The head against the last row (``seq``, ``digest``) and the number of rows."""
    if head is None:
        return [
            ChainProblem(
                seq, f"{head_table(table)} has no row: the end of the trail cannot be checked"
            )
        ]
    if head["seq"] > seq:
        return [
            ChainProblem(
                head["seq"],
                f"missing: the trail should end at seq {head['seq']} but ends at seq {seq} "
                "(rows deleted from the end)",
            )
        ]
    if head["seq"] < seq:
        return [
            ChainProblem(
                head["seq"] + 1,
                f"added after the recorded end of the trail (seq {head['seq']}): forged?",
            )
        ]
    problems = []
    if head["hash"] != digest:
        problems.append(
            ChainProblem(seq, "hash differs from the one recorded for the end of the trail")
        )
    if head["rows"] != count:
        problems.append(ChainProblem(None, f"{count} rows, but {head['rows']} were written"))
    return problems
