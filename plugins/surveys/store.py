"""What surveys keep: one row per survey and one per answer, and the scores from them.

A survey row ties the answers to the call, the agent and the queue; answers are kept in
their own table so a question can be added or dropped later without touching old rows.
Rows are only ever inserted.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils
from medlytt import Migration, Scope, transaction

RESPONSES = "survey_responses"
ANSWERS = "survey_answers"


def _create_responses(db: sqlite_utils.Database) -> None:
    db.table(RESPONSES).create(
        {
            "id": str,
            "call_id": str,
            "queue": str,
            "agent_id": str,
            "started_at": str,
            "finished_at": str,
            "result": str,  # completed | incomplete
        },
        pk="id",
        if_not_exists=True,
    )
    db.table(RESPONSES).create_index(["agent_id", "started_at"], if_not_exists=True)
    db.table(RESPONSES).create_index(["queue", "started_at"], if_not_exists=True)


def _create_answers(db: sqlite_utils.Database) -> None:
    db.table(ANSWERS).create(
        {
            "survey_id": str,
            "question": str,
            "answer": str,  # a digit, or no_answer | invalid | hung_up
        },
        pk=("survey_id", "question"),
        foreign_keys=[("survey_id", RESPONSES, "id")],
        if_not_exists=True,
    )


MIGRATIONS = [
    Migration("create_survey_responses", _create_responses),
    Migration("create_survey_answers", _create_answers),
]


def save_survey(db: sqlite_utils.Database, row: dict[str, Any], answers: dict[str, str]) -> None:
    """Insert one finished survey and its answers together."""
    with transaction(db):
        db.execute(
            f"INSERT INTO {RESPONSES} (id, call_id, queue, agent_id, started_at, finished_at, "
            "result) VALUES (:id, :call_id, :queue, :agent_id, :started_at, :finished_at, :result)",
            row,
        )
        db.conn.executemany(
            f"INSERT INTO {ANSWERS} (survey_id, question, answer) VALUES (?, ?, ?)",
            [(row["id"], question, answer) for question, answer in answers.items()],
        )


def _where(queue: str | None, scope: Scope) -> tuple[str, list[Any]]:
    clause, params = scope.sql("r.agent_id", "r.started_at")
    clauses = [clause]
    if queue is not None:
        clauses.append("r.queue = ?")
        params.append(queue)
    return " WHERE " + " AND ".join(clauses), params


def surveys(
    db: sqlite_utils.Database, queue: str | None, scope: Scope, limit: int
) -> list[dict[str, Any]]:
    """The newest ``limit`` surveys ``scope`` sees, each with its answers as
    ``{question: answer}``."""
    where, params = _where(queue, scope)
    rows = list(
        db.query(
            f"SELECT r.* FROM {RESPONSES} r{where} ORDER BY r.started_at DESC, r.id LIMIT ?",
            [*params, limit],
        )
    )
    if not rows:
        return rows
    answers: dict[str, dict[str, str]] = {row["id"]: {} for row in rows}
    marks = ", ".join("?" for _ in rows)
    for survey_id, question, answer in db.execute(
        f"SELECT survey_id, question, answer FROM {ANSWERS} WHERE survey_id IN ({marks})",
        list(answers),
    ).fetchall():
        answers[survey_id][question] = answer
    return [{**row, "answers": answers[row["id"]]} for row in rows]


def scores(db: sqlite_utils.Database, queue: str | None, scope: Scope) -> list[dict[str, Any]]:
    """Per agent ``scope`` sees: surveys, completed surveys and, per question, count and
    mean of the keys.

    Only digit answers enter a mean; ``no_answer``, ``invalid`` and ``hung_up`` do not.
    """
    where, params = _where(queue, scope)
    agents: dict[str, dict[str, Any]] = {}
    for agent, total, completed in db.execute(
        f"SELECT r.agent_id, COUNT(*), SUM(r.result = 'completed') FROM {RESPONSES} r{where} "
        "GROUP BY r.agent_id ORDER BY r.agent_id",
        params,
    ).fetchall():
        agents[agent] = {
            "agent_id": agent,
            "surveys": total,
            "completed": completed,
            "questions": {},
        }
    digits = "a.answer GLOB '[0-9]'"
    for agent, question, count, mean in db.execute(
        f"SELECT r.agent_id, a.question, COUNT(*), AVG(CAST(a.answer AS INTEGER)) "
        f"FROM {ANSWERS} a JOIN {RESPONSES} r ON r.id = a.survey_id"
        f"{where} AND {digits} GROUP BY r.agent_id, a.question "
        "ORDER BY r.agent_id, a.question",
        params,
    ).fetchall():
        agents[agent]["questions"][question] = {"answers": count, "mean": round(mean, 2)}
    return list(agents.values())
