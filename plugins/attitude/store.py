"""What the attitude plugin keeps, laid out so that no answer can be traced to its author.

* ``attitude_rounds``: one row per 360° round (about whom, which form, opened and closed).
* ``attitude_invitations``: who was invited to a round and whether they have answered (so
  that each answers once, and their team leader can remind those who have not).  No time.
* ``attitude_answers``: the answers, with a random id, the round and the scores only: no
  name, no time.  The table is ``WITHOUT ROWID`` and keyed by the random id, so SQLite keeps
  its rows in the order of that id, not in the order they came in.
* ``attitude_checkins`` (who checked in for which team and week: each once) and
  ``attitude_checkin_answers`` (the answers, random id, team and week only), the same way.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import sqlite_utils
from medlytt import Migration, Scope, transaction

ROUNDS = "attitude_rounds"
INVITATIONS = "attitude_invitations"
ANSWERS = "attitude_answers"
CHECKINS = "attitude_checkins"
CHECKIN_ANSWERS = "attitude_checkin_answers"


def _create(db: sqlite_utils.Database) -> None:
    db.executescript(
        f"""
        CREATE TABLE IF NOT EXISTS {ROUNDS} (
            id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, form TEXT NOT NULL,
            form_version INTEGER NOT NULL, opened_at TEXT NOT NULL, opened_by TEXT NOT NULL,
            note TEXT, closed_at TEXT, closed_by TEXT);
        CREATE INDEX IF NOT EXISTS {ROUNDS}_agent ON {ROUNDS} (agent_id, opened_at);
        CREATE TABLE IF NOT EXISTS {INVITATIONS} (
            round_id TEXT NOT NULL, colleague TEXT NOT NULL, answered INTEGER NOT NULL,
            PRIMARY KEY (round_id, colleague));
        CREATE TABLE IF NOT EXISTS {ANSWERS} (
            id TEXT PRIMARY KEY, round_id TEXT NOT NULL, scores TEXT NOT NULL, comment TEXT
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS {CHECKINS} (
            team TEXT NOT NULL, period TEXT NOT NULL, user TEXT NOT NULL,
            PRIMARY KEY (team, period, user));
        CREATE TABLE IF NOT EXISTS {CHECKIN_ANSWERS} (
            id TEXT PRIMARY KEY, team TEXT NOT NULL, period TEXT NOT NULL, scores TEXT NOT NULL
        ) WITHOUT ROWID;
        """
    )


MIGRATIONS = [Migration("create_attitude_tables", _create)]


def open_round(db: sqlite_utils.Database, row: dict[str, Any], colleagues: list[str]) -> None:
    with transaction(db):
        db.table(ROUNDS).insert(row)
        db.table(INVITATIONS).insert_all(
            {"round_id": row["id"], "colleague": name, "answered": 0} for name in colleagues
        )


def get_round(db: sqlite_utils.Database, round_id: str) -> dict[str, Any] | None:
    rows = list(db.query(f"SELECT * FROM {ROUNDS} WHERE id = ?", [round_id]))
    return rows[0] if rows else None


def rounds(db: sqlite_utils.Database, scope: Scope, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` rounds about agents ``scope`` sees."""
    clause, params = scope.sql("agent_id", "opened_at")
    return list(
        db.query(
            f"SELECT * FROM {ROUNDS} WHERE {clause} ORDER BY opened_at DESC, id LIMIT ?",
            [*params, limit],
        )
    )


def invitations(db: sqlite_utils.Database, round_id: str) -> list[dict[str, Any]]:
    return list(
        db.query(
            f"SELECT colleague, answered FROM {INVITATIONS} WHERE round_id = ? ORDER BY colleague",
            [round_id],
        )
    )


def invitations_of(db: sqlite_utils.Database, colleague: str) -> list[dict[str, Any]]:
    """The rounds ``colleague`` is invited to, newest first."""
    return list(
        db.query(
            f"SELECT r.id AS round_id, r.agent_id, r.form, r.opened_at, r.closed_at, i.answered "
            f"FROM {INVITATIONS} i JOIN {ROUNDS} r ON r.id = i.round_id "
            "WHERE i.colleague = ? ORDER BY r.opened_at DESC, r.id",
            [colleague],
        )
    )


def answers(db: sqlite_utils.Database, round_id: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The round's scores and comments, each list in the random order of the answers' ids."""
    rows = list(
        db.execute(
            f"SELECT scores, comment FROM {ANSWERS} WHERE round_id = ? ORDER BY id", [round_id]
        ).fetchall()
    )
    return [json.loads(scores) for scores, _ in rows], [c for _, c in rows if c]


class NotInvited(Exception):
    """The caller is not invited to the round, or has answered it already."""


def answer(
    db: sqlite_utils.Database,
    round_id: str,
    colleague: str,
    scores: dict[str, Any],
    comment: str | None,
) -> tuple[int, int]:
    """Keep ``colleague``'s answer (unlinked from them) and mark them answered, in one
    transaction; (answered, invited) after it.  :class:`NotInvited` when they may not."""
    with transaction(db):
        done = db.execute(
            f"UPDATE {INVITATIONS} SET answered = 1 "
            "WHERE round_id = ? AND colleague = ? AND answered = 0",
            [round_id, colleague],
        ).rowcount
        if done != 1:
            raise NotInvited(colleague)
        db.execute(
            f"INSERT INTO {ANSWERS} (id, round_id, scores, comment) VALUES (?, ?, ?, ?)",
            [uuid.uuid4().hex, round_id, json.dumps(scores, sort_keys=True), comment],
        )
        answered, invited = db.execute(
            f"SELECT SUM(answered), COUNT(*) FROM {INVITATIONS} WHERE round_id = ?", [round_id]
        ).fetchone()
    return int(answered), int(invited)


def close_round(db: sqlite_utils.Database, round_id: str, at: str, by: str | None) -> bool:
    """Close the round; False when it was closed already."""
    return (
        db.execute(
            f"UPDATE {ROUNDS} SET closed_at = ?, closed_by = ? WHERE id = ? AND closed_at IS NULL",
            [at, by, round_id],
        ).rowcount
        == 1
    )


class CheckedInAlready(Exception):
    """The user has checked in for this team and week already."""


def check_in(
    db: sqlite_utils.Database, team: str, period: str, user: str, scores: dict[str, Any]
) -> None:
    """Keep ``user``'s check-in for ``team`` and ``period``, its answers unlinked from them."""
    with transaction(db):
        seen = db.execute(
            f"SELECT 1 FROM {CHECKINS} WHERE team = ? AND period = ? AND user = ?",
            [team, period, user],
        ).fetchone()
        if seen:
            raise CheckedInAlready(user)
        db.execute(
            f"INSERT INTO {CHECKINS} (team, period, user) VALUES (?, ?, ?)", [team, period, user]
        )
        db.execute(
            f"INSERT INTO {CHECKIN_ANSWERS} (id, team, period, scores) VALUES (?, ?, ?, ?)",
            [uuid.uuid4().hex, team, period, json.dumps(scores, sort_keys=True)],
        )


def teams_checked_in(db: sqlite_utils.Database, period: str, user: str) -> set[str]:
    """The teams (case-folded) ``user`` has checked in for in ``period``."""
    return {
        team.casefold()
        for (team,) in db.execute(
            f"SELECT team FROM {CHECKINS} WHERE period = ? AND user = ?", [period, user]
        ).fetchall()
    }


def checkin_periods(
    db: sqlite_utils.Database, teams: list[str] | None, limit: int
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Per team (``teams`` None: every team) its newest ``limit`` weeks → their answers
    (each week's in the random order of the answers' ids)."""
    where, params = "1", []
    if teams is not None:
        if not teams:
            return {}
        where = f"team COLLATE NOCASE IN ({', '.join('?' for _ in teams)})"
        params = list(teams)
    result: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for team, period, scores in db.execute(
        f"SELECT team, period, scores FROM {CHECKIN_ANSWERS} WHERE {where} "
        "ORDER BY team, period DESC, id",
        params,
    ).fetchall():
        weeks = result.setdefault(team, {})
        if period in weeks or len(weeks) < limit:
            weeks.setdefault(period, []).append(json.loads(scores))
    return result


def figures(db: sqlite_utils.Database) -> dict[str, Any]:
    """For the metrics: rounds open and closed, answers given, check-ins per team."""
    open_, closed = db.execute(
        f"SELECT SUM(closed_at IS NULL), SUM(closed_at IS NOT NULL) FROM {ROUNDS}"
    ).fetchone()
    return {
        "rounds": {"open": int(open_ or 0), "closed": int(closed or 0)},
        "answers": db.execute(f"SELECT COUNT(*) FROM {ANSWERS}").fetchone()[0],
        "checkins": dict(
            db.execute(f"SELECT team, COUNT(*) FROM {CHECKINS} GROUP BY team").fetchall()
        ),
    }
