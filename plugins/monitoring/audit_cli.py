"""``medlytt audit verify``: check the monitoring audit trail's hash chain.

It reads the configured database (``[storage] path``, ``--config`` or ``MEDLYTT_CONFIG``)
read-only, so it may run beside a running Medlytt or on a copy of the file.  Exit status:
0 when the chain is intact, 1 when it is broken (one line per problem) or the database
cannot be read, 2 on a configuration error.  See docs/monitoring.md, "Audit trail".
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import click
import sqlite_utils
from medlytt import config_option, storage_path

from . import store

PREFIX = "monitoring audit"


@click.group()
def audit() -> None:
    """Audit trails: check that nobody changed them."""


@audit.command()
@config_option
def verify(config_path: Path | None) -> None:
    """Check the monitoring audit trail: every row's hash, the chain and its end."""
    path = storage_path(config_path)
    if not path.is_file():
        click.echo(f"medlytt: no database at storage.path {str(path)!r}", err=True)
        sys.exit(1)
    try:
        conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
        conn.isolation_level = None  # autocommit: store.verify opens its own transaction
        try:
            db = sqlite_utils.Database(conn)
            problems = store.verify(db)
            count = store.audit_count(db) if not problems else 0
        finally:
            conn.close()
    except sqlite3.Error as exc:
        click.echo(f"medlytt: cannot read {str(path)!r}: {exc}", err=True)
        sys.exit(1)
    for problem in problems:
        click.echo(f"{PREFIX}: {problem}")
    if problems:
        sys.exit(1)
    click.echo(f"{PREFIX}: {count} rows, chain intact")


if __name__ == "__main__":  # python -m medlytt.plugins.monitoring.audit_cli
    audit(prog_name="medlytt audit")
