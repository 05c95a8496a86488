"""What the quality plugin keeps: form versions, evaluations, plans, calibration rounds.

Form versions and an evaluation's scores are never updated: an evaluation keeps the form
version it was made with and the score computed then, so editing a form (a new version)
never changes an old result.  Only an evaluation's answer (acknowledged or disputed) is
written later, once.
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils
from medlytt import Migration, Scope, transaction

from . import access_trail

FORMS = "quality_forms"
EVALUATIONS = "quality_evaluations"
PLANS = "quality_plans"
ROUNDS = "quality_calibrations"
ROUND_SCORES = "quality_calibration_scores"

#: Evaluation columns that hold JSON.
_JSON = ("scores", "comments", "failed_critical")


def _create_forms(db: sqlite_utils.Database) -> None:
    db.table(FORMS).create(
        {"id": str, "version": int, "created_at": str, "created_by": str, "body": str},
        pk=("id", "version"),
        if_not_exists=True,
    )


def _create_evaluations(db: sqlite_utils.Database) -> None:
    db.table(EVALUATIONS).create(
        {
            "id": str,
            "created_at": str,
            "form": str,
            "form_version": int,
            "agent_id": str,
            "evaluator": str,
            "subject_kind": str,  # call | monitoring | recording | mystery_call
            "subject_id": str,
            "call_id": str,
            "recording_id": str,
            "live": int,  # made while the call was going on
            "score": float,
            "raw_score": float,
            "passed": int,
            "failed_critical": str,
            "scores": str,
            "comments": str,
            "comment": str,
            "process_issue": int,  # the agent did right and the call still went wrong
            "status": str,  # open | acknowledged | disputed
            "answered_at": str,
            "answer_comment": str,
        },
        pk="id",
        if_not_exists=True,
    )
    db.table(EVALUATIONS).create_index(["agent_id", "created_at"], if_not_exists=True)
    db.table(EVALUATIONS).create_index(["form", "created_at"], if_not_exists=True)


def _create_plans(db: sqlite_utils.Database) -> None:
    db.table(PLANS).create(
        {
            "team": str,
            "per_agent_per_month": int,
            "live_at_least": int,
            "updated_at": str,
            "updated_by": str,
        },
        pk="team",
        if_not_exists=True,
    )


def _create_rounds(db: sqlite_utils.Database) -> None:
    db.table(ROUNDS).create(
        {
            "id": str,
            "created_at": str,
            "created_by": str,
            "team": str,
            "form": str,
            "form_version": int,
            "subjects": str,
            "evaluators": str,
            "closed_at": str,
            "closed_by": str,
        },
        pk="id",
        if_not_exists=True,
    )
    db.table(ROUNDS).create_index(["team", "closed_at"], if_not_exists=True)
    db.table(ROUND_SCORES).create(
        {"calibration_id": str, "subject": str, "evaluator": str, "scores": str, "at": str},
        pk=("calibration_id", "subject", "evaluator"),
        foreign_keys=[("calibration_id", ROUNDS, "id")],
        if_not_exists=True,
    )


MIGRATIONS = [
    Migration("create_quality_forms", _create_forms),
    Migration("create_quality_evaluations", _create_evaluations),
    Migration("create_quality_plans", _create_plans),
    Migration("create_quality_calibrations", _create_rounds),
    Migration("create_quality_evaluation_access", access_trail.create),
]


# ------------------------------------------------------------------------------- forms


def form_rows(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return list(db.query(f"SELECT * FROM {FORMS} ORDER BY id, version"))


def insert_form(db: sqlite_utils.Database, row: dict[str, Any]) -> bool:
    """Store a form version; False when that (id, version) is already stored."""
    with transaction(db):
        cursor = db.execute(
            f"INSERT OR IGNORE INTO {FORMS} (id, version, created_at, created_by, body) "
            "VALUES (:id, :version, :created_at, :created_by, :body)",
            row,
        )
    return cursor.rowcount > 0


# ------------------------------------------------------------------------- evaluations


def _evaluation(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key in _JSON:
        out[key] = json.loads(out[key]) if out[key] is not None else None
    for key in ("live", "passed", "process_issue"):
        out[key] = bool(out[key])
    return out


def insert_evaluation(db: sqlite_utils.Database, row: dict[str, Any]) -> None:
    stored = {k: (json.dumps(v) if k in _JSON else v) for k, v in row.items()}
    with transaction(db):
        db.table(EVALUATIONS).insert(stored)


def get_evaluation(db: sqlite_utils.Database, evaluation_id: str) -> dict[str, Any] | None:
    rows = list(db.query(f"SELECT * FROM {EVALUATIONS} WHERE id = ?", [evaluation_id]))
    return _evaluation(rows[0]) if rows else None


def evaluations(
    db: sqlite_utils.Database,
    scope: Scope,
    *,
    form: str | None = None,
    since: str | None = None,
    status: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """The newest evaluations ``scope`` sees (an agent id held before by someone else
    shows only the current holder's)."""
    clause, params = scope.sql("agent_id", "created_at")
    clauses = [clause]
    for column, value, op in (
        ("form", form, "="),
        ("created_at", since, ">="),
        ("status", status, "="),
    ):
        if value is not None:
            clauses.append(f"{column} {op} ?")
            params.append(value)
    rows = db.query(
        f"SELECT * FROM {EVALUATIONS} WHERE {' AND '.join(clauses)} "
        "ORDER BY created_at DESC, id LIMIT ?",
        [*params, limit],
    )
    return [_evaluation(row) for row in rows]


def answer_evaluation(
    db: sqlite_utils.Database, evaluation_id: str, status: str, at: str, comment: str | None
) -> bool:
    """Record the agent's answer once; False when it was answered already."""
    with transaction(db):
        cursor = db.execute(
            f"UPDATE {EVALUATIONS} SET status = ?, answered_at = ?, answer_comment = ? "
            "WHERE id = ? AND status = 'open'",
            [status, at, comment, evaluation_id],
        )
    return cursor.rowcount > 0


def counts_by_form(db: sqlite_utils.Database) -> list[tuple[str, float | None]]:
    """Every evaluation's form and score, for the metrics at start-up."""
    return [tuple(r) for r in db.execute(f"SELECT form, score FROM {EVALUATIONS}").fetchall()]


def listenings(
    db: sqlite_utils.Database, agents: list[str], start: str, end: str
) -> dict[str, tuple[int, int]]:
    """Per agent: evaluations made in [start, end) and how many of them live."""
    if not agents:
        return {}
    marks = ", ".join("?" for _ in agents)
    found = {agent: (0, 0) for agent in agents}
    for agent, total, live in db.execute(
        f"SELECT agent_id, COUNT(*), SUM(live) FROM {EVALUATIONS} WHERE agent_id IN ({marks}) "
        "AND created_at >= ? AND created_at < ? GROUP BY agent_id",
        [*agents, start, end],
    ).fetchall():
        found[agent] = (total, live or 0)
    return found


# ------------------------------------------------------------------------------- plans


def get_plan(db: sqlite_utils.Database, team: str) -> dict[str, Any] | None:
    rows = list(db.query(f"SELECT * FROM {PLANS} WHERE team = ? COLLATE NOCASE", [team]))
    return rows[0] if rows else None


def plans(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return list(db.query(f"SELECT * FROM {PLANS} ORDER BY team"))


def put_plan(db: sqlite_utils.Database, row: dict[str, Any]) -> None:
    with transaction(db):
        db.execute(f"DELETE FROM {PLANS} WHERE team = ? COLLATE NOCASE", [row["team"]])
        db.table(PLANS).insert(row)


# -------------------------------------------------------------------------- calibration


def _round(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "subjects": json.loads(row["subjects"]),
        "evaluators": json.loads(row["evaluators"]),
    }


def insert_round(db: sqlite_utils.Database, row: dict[str, Any]) -> None:
    stored = {
        **row,
        "subjects": json.dumps(row["subjects"]),
        "evaluators": json.dumps(row["evaluators"]),
    }
    with transaction(db):
        db.table(ROUNDS).insert(stored)


def get_round(db: sqlite_utils.Database, calibration_id: str) -> dict[str, Any] | None:
    rows = list(db.query(f"SELECT * FROM {ROUNDS} WHERE id = ?", [calibration_id]))
    return _round(rows[0]) if rows else None


def rounds(db: sqlite_utils.Database, teams: list[str] | None) -> list[dict[str, Any]]:
    """Rounds of ``teams`` (None: all), newest first."""
    if teams is None:
        rows = db.query(f"SELECT * FROM {ROUNDS} ORDER BY created_at DESC")
    else:
        marks = ", ".join("?" for _ in teams) or "NULL"
        rows = db.query(
            f"SELECT * FROM {ROUNDS} WHERE team COLLATE NOCASE IN ({marks}) "
            "ORDER BY created_at DESC",
            teams,
        )
    return [_round(row) for row in rows]


def put_round_scores(db: sqlite_utils.Database, row: dict[str, Any]) -> None:
    """The evaluator's scores of one subject; scoring it again replaces them (until the
    round closes)."""
    with transaction(db):
        db.execute(
            f"INSERT OR REPLACE INTO {ROUND_SCORES} (calibration_id, subject, evaluator, "
            "scores, at) VALUES (:calibration_id, :subject, :evaluator, :scores, :at)",
            {**row, "scores": json.dumps(row["scores"])},
        )


def round_scores(
    db: sqlite_utils.Database, calibration_id: str, evaluator: str | None = None
) -> list[dict[str, Any]]:
    sql = f"SELECT * FROM {ROUND_SCORES} WHERE calibration_id = ?"
    params: list[Any] = [calibration_id]
    if evaluator is not None:
        sql += " AND evaluator = ?"
        params.append(evaluator)
    rows = db.query(sql + " ORDER BY subject, evaluator", params)
    return [{**row, "scores": json.loads(row["scores"])} for row in rows]


def close_round(db: sqlite_utils.Database, calibration_id: str, at: str, by: str) -> bool:
    with transaction(db):
        cursor = db.execute(
            f"UPDATE {ROUNDS} SET closed_at = ?, closed_by = ? WHERE id = ? AND closed_at IS NULL",
            [at, by, calibration_id],
        )
    return cursor.rowcount > 0


def last_closed(db: sqlite_utils.Database) -> dict[str, str]:
    """Per team (as written in its rounds): when its last round closed."""
    return {
        team: closed
        for team, closed in db.execute(
            f"SELECT team, MAX(closed_at) FROM {ROUNDS} WHERE closed_at IS NOT NULL GROUP BY team"
        ).fetchall()
    }
