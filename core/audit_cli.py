"""``medlytt audit verify``: check every audit trail's hash chain.

The trails are the core's (who heard a recording: ``recording_access``) and those the
enabled plugins name through the hook ``medlytt_audit_trails`` (the monitoring audit,
evaluation access...): the core knows none of them by name.  The command reads the
configured database (``[storage] path``, ``--config`` or ``MEDLYTT_CONFIG``) read-only,
so it may run beside a running Medlytt or on a copy of the file.  Exit status: 0 when
every chain is intact, 1 when one is broken (one line per problem, starting with the
trail's name; a trail's table missing although its plugin ran here is one) or the
database cannot be read, 2 on a configuration error.  See
docs/security.md, "Audit trails".
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import click
import sqlite_utils

from .chain import AuditTrail, chain_count, verify_chain
from .client import config_option, storage_path
from .storage import MIGRATIONS_TABLE

#: The core's own trails, checked before the plugins'.
CORE_TRAILS = (AuditTrail("recording access", "recording_access"),)


def trails(config_path: Path | None) -> list[tuple[str, AuditTrail]]:
    """The core's trails and those of every enabled plugin, each with its owner (the
    plugin's name, or ``core``); exit 2 on a config error."""
    from .app import load_plugins
    from .cli import fail_config, read_config
    from .config import ConfigError

    config = read_config(config_path)
    try:
        host, _ = load_plugins(config)
    except ConfigError as exc:
        fail_config(exc)
    found = [("core", trail) for trail in CORE_TRAILS]
    for info, named in host.call_sync("medlytt_audit_trails"):
        found += [(info.name, t) for t in named or [] if isinstance(t, AuditTrail)]
    return found


def never_ran(db: sqlite_utils.Database, owner: str) -> bool:
    """Whether ``owner`` (a plugin, or the core) never migrated this database: its trail's
    table is missing because it was never made, not because someone dropped it."""
    if not db.table(MIGRATIONS_TABLE).exists():
        return True
    sql = f"SELECT count(*) FROM {MIGRATIONS_TABLE} WHERE plugin = ?"
    return not db.execute(sql, [owner]).fetchone()[0]


@click.group()
def audit() -> None:
    """Audit trails: check that nobody changed them."""


@audit.command()
@config_option
def verify(config_path: Path | None) -> None:
    """Check every audit trail: each row's hash, the chain and its end."""
    checked = trails(config_path)
    path = storage_path(config_path)
    if not path.is_file():
        click.echo(f"medlytt: no database at storage.path {str(path)!r}", err=True)
        sys.exit(1)
    lines: list[str] = []
    broken = False
    try:
        conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
        conn.isolation_level = None  # autocommit: verify_chain opens its own transaction
        try:
            db = sqlite_utils.Database(conn)
            for owner, trail in checked:
                if not db.table(trail.table).exists() and never_ran(db, owner):
                    lines.append(f"{trail.name}: no rows ({owner} has not run on this database)")
                    continue
                problems = verify_chain(db, trail.table)
                broken = broken or bool(problems)
                lines += [f"{trail.name}: {problem}" for problem in problems]
                if not problems:
                    count = chain_count(db, trail.table)
                    lines.append(f"{trail.name}: {count} rows, chain intact")
        finally:
            conn.close()
    except sqlite3.Error as exc:
        click.echo(f"medlytt: cannot read {str(path)!r}: {exc}", err=True)
        sys.exit(1)
    for line in lines:
        click.echo(line)
    if broken:
        sys.exit(1)
