"""Storage: the journal's write rate, and per-agent history with a year of data.

Journal: ``--events`` simulated events appended to a running Medlytt's journal and
flushed (``EventJournal``: a row per event with its JSON, in batches, on the storage
thread); the floor in the same run is SQLite's ``executemany`` of the same rows, already
built, into a copy of the table.

History: the tables the plugins keep per agent (survey responses, the monitoring audit,
mystery-call results, quality evaluations when the quality plugin is installed), created
by their own migrations and filled with a generated year for ``--agents`` agents; then,
for every agent, the history query a per-agent page makes: that agent's rows of the last
90 days, newest first, at most 100.  ``EXPLAIN QUERY PLAN`` shows the index it uses.  The
floor: fetching the same rows by their rowids (the least any query must read).

    .venv/bin/python benchmarks/storage.py [--agents 500] [--events 100000] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from medlytt.events import encode_event
from medlytt.gateways.demo.settings import DemoSettings
from medlytt.gateways.demo.simulation import ContactCenterSimulation
from medlytt.journal import event_row
from medlytt.testing import running_medlytt

START = datetime(2026, 1, 1, tzinfo=UTC)
#: (table, its time column, rows per agent per year): what a year of coaching leaves.
HISTORY = (
    ("survey_responses", "started_at", 1200),  # about 5 surveyed calls a working day
    ("monitoring_audit", "at", 200),  # two sessions a week, start and stop
    ("mystery_calls", "started_at", 12),  # one a month
    ("quality_evaluations", "created_at", 48),  # four a month
)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


async def journal_rate(events: int, db: Path) -> dict[str, float]:
    sim = ContactCenterSimulation(DemoSettings(agents=200), start=START, seed=1)
    batch = []
    for event in sim.run(10**9):
        batch.append(event)
        if len(batch) >= events:
            break
    async with running_medlytt({"storage": {"journal_batch_size": 5000}}, db_path=db) as app:
        journal = app.journal
        assert journal is not None
        start = time.perf_counter()
        for event in batch:
            journal.append(event)
        await journal.flush()
        elapsed = time.perf_counter() - start
    rows = [event_row(e) for e in batch]
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE floor AS SELECT * FROM events WHERE 0")
    conn.execute("CREATE INDEX floor_call ON floor (call_id)")
    conn.execute("CREATE INDEX floor_type ON floor (type, at)")
    values = [tuple(r.values()) for r in rows]
    start = time.perf_counter()
    with conn:
        conn.executemany(
            "INSERT INTO floor (at, type, source, call_id, agent_id, queue, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            values,
        )
    floor = time.perf_counter() - start
    conn.close()
    size = sum(len(encode_event(e)) for e in batch) / len(batch)
    return {
        "events": len(batch),
        "per_second": len(batch) / elapsed,
        "floor_per_second": len(batch) / floor,
        "json_bytes_per_event": size,
    }


def fill(
    conn: sqlite3.Connection, table: str, time_column: str, per_agent: int, agents: int
) -> int:
    """A year of generated rows: every column given a value of its declared type."""
    columns = conn.execute(f"PRAGMA table_info({table})").fetchall()
    rng = random.Random(table)
    rows: list[list[Any]] = []
    serial = 0
    for a in range(agents):
        agent = f"PJSIP/{1001 + a}"
        for _ in range(per_agent):
            serial += 1
            when = START + timedelta(seconds=rng.uniform(0, 365 * 86400))
            row: list[Any] = []
            for _, name, kind, _, _, pk in columns:
                if name == "agent_id":
                    row.append(agent)
                elif name == time_column:
                    row.append(when.isoformat())
                elif pk and kind.upper() == "INTEGER":
                    row.append(None)
                elif kind.upper() in ("INTEGER", "INT"):
                    row.append(rng.randrange(5))
                elif kind.upper() in ("FLOAT", "REAL"):
                    row.append(rng.random() * 100)
                else:
                    row.append(f"{name}-{serial}")
            rows.append(row)
    marks = ", ".join("?" for _ in columns)
    with conn:
        conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
    return len(rows)


def history(db: Path, agents: int) -> dict[str, Any]:
    conn = sqlite3.connect(db)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    results: dict[str, Any] = {}
    since = (START + timedelta(days=275)).isoformat()
    for table, column, per_agent in HISTORY:
        if table not in tables:
            continue
        rows = fill(conn, table, column, per_agent, agents)
        conn.execute("ANALYZE")
        query = (
            f"SELECT * FROM {table} WHERE agent_id = ? AND {column} >= ? "
            f"ORDER BY {column} DESC LIMIT 100"
        )
        plan = " / ".join(r[-1] for r in conn.execute(f"EXPLAIN QUERY PLAN {query}", ("x", "y")))
        times, floors = [], []
        for a in range(agents):
            agent = f"PJSIP/{1001 + a}"
            start = time.perf_counter()
            got = conn.execute(query, (agent, since)).fetchall()
            times.append(time.perf_counter() - start)
            ids = [
                r[0]
                for r in conn.execute(
                    f"SELECT rowid FROM {table} WHERE agent_id = ? AND {column} >= ? "
                    f"ORDER BY {column} DESC LIMIT 100",
                    (agent, since),
                )
            ]
            marks = ", ".join("?" for _ in ids)
            start = time.perf_counter()
            conn.execute(f"SELECT * FROM {table} WHERE rowid IN ({marks})", ids).fetchall()
            floors.append(time.perf_counter() - start)
            assert len(got) == len(ids)
        results[table] = {
            "rows": rows,
            "p50_ms": percentile(times, 50) * 1000,
            "p99_ms": percentile(times, 99) * 1000,
            "floor_p50_ms": percentile(floors, 50) * 1000,
            "plan": plan,
        }
    conn.close()
    return results


async def schema(db: Path) -> None:
    """Every plugin's tables, by its own migrations."""
    async with running_medlytt({}, db_path=db):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        journal = asyncio.run(journal_rate(args.events, Path(tmp) / "journal.db"))
        asyncio.run(schema(Path(tmp) / "history.db"))
        tables = history(Path(tmp) / "history.db", args.agents)
    print(
        f"journal: {journal['events']:,} events at {journal['per_second']:,.0f}/s "
        f"(floor, executemany of the built rows: {journal['floor_per_second']:,.0f}/s); "
        f"{journal['json_bytes_per_event']:.0f} bytes of JSON per event"
    )
    print("| table | rows (a year) | p50 ms | p99 ms | floor p50 ms | plan |")
    print("|---|---|---|---|---|---|")
    for table, got in tables.items():
        print(
            f"| {table} | {got['rows']:,} | {got['p50_ms']:.2f} | {got['p99_ms']:.2f} | "
            f"{got['floor_p50_ms']:.2f} | {got['plan']} |"
        )
    if args.json:
        args.json.write_text(json.dumps({"journal": journal, "history": tables}, indent=1))


if __name__ == "__main__":
    main()
