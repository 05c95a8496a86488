"""A plugin with a hash-chained trail of its own, which ``medlytt audit verify`` checks
through the hook ``medlytt_audit_trails`` (tests/test_hook_contract.py)."""

import sqlite_utils
from medlytt import AuditTrail, Migration, append_chained, chain_table, hookimpl

TABLE = "chained_notes"


def create(db: sqlite_utils.Database) -> None:
    db.table(TABLE).create({"seq": int, "at": str, "note": str}, pk="seq", if_not_exists=True)
    chain_table(db, TABLE, append_only=True)


def note(db: sqlite_utils.Database, text: str) -> None:
    append_chained(db, TABLE, [{"at": "2025-01-01T10:00:00+00:00", "note": text}])


@hookimpl
def medlytt_migrations():
    return [Migration("create_chained_notes", create)]


@hookimpl
def medlytt_audit_trails():
    return [AuditTrail("chained notes", TABLE)]
