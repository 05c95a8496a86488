"""What the written-communication plugin keeps: one row per scored text.

The text itself is a column only filled with ``[written] keep_text = true``; otherwise a
row holds the scores and the text's SHA-256.  Rows are only ever inserted.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils
from medlytt import Migration, Scope

TEXTS = "written_texts"
#: Figures averaged by the trend, per agent and period.
TREND_FIGURES = (
    "lix",
    "mean_sentence_words",
    "mean_word_letters",
    "long_word_share",
    "passive_share",
)
#: ``?by=`` of the trend: the SQLite strftime format of a period (UTC).  A week is the
#: year and SQLite's ``%W``: weeks start on Monday, days before the year's first Monday
#: are week 00 (not ISO 8601 weeks, which may belong to the year before).
PERIODS = {"day": "%Y-%m-%d", "week": "%Y-W%W", "month": "%Y-%m"}


def _create(db: sqlite_utils.Database) -> None:
    db.table(TEXTS).create(
        {
            "id": str,
            "at": str,
            "agent_id": str,
            "kind": str,
            "language": str,
            "sha256": str,
            "submitted_by": str,
            "words": int,
            "sentences": int,
            "long_words": int,
            "lix": float,
            "mean_sentence_words": float,
            "mean_word_letters": float,
            "long_word_share": float,
            "passive_sentences": int,
            "passive_share": float,
            "text": str,
        },
        pk="id",
        if_not_exists=True,
    )
    db.table(TEXTS).create_index(["agent_id", "at"], if_not_exists=True)


MIGRATIONS = [Migration("create_written_texts", _create)]


def insert_text(db: sqlite_utils.Database, row: dict[str, Any]) -> None:
    db.table(TEXTS).insert(row)


def texts(
    db: sqlite_utils.Database, scope: Scope, kind: str | None, limit: int
) -> list[dict[str, Any]]:
    """The newest ``limit`` texts ``scope`` sees (of ``kind``), newest first."""
    clause, params = scope.sql("agent_id", "at")
    if kind is not None:
        clause += " AND kind = ?"
        params.append(kind)
    return list(
        db.query(
            f"SELECT * FROM {TEXTS} WHERE {clause} ORDER BY at DESC, id LIMIT ?",
            [*params, limit],
        )
    )


def trend(db: sqlite_utils.Database, scope: Scope, by: str) -> list[dict[str, Any]]:
    """Per agent ``scope`` sees and period (``by``: day, week, month), oldest first: how
    many texts and the mean of each figure."""
    clause, params = scope.sql("agent_id", "at")
    means = ", ".join(f"ROUND(AVG({figure}), 4) AS {figure}" for figure in TREND_FIGURES)
    return list(
        db.query(
            f"SELECT agent_id, strftime('{PERIODS[by]}', at) AS period, COUNT(*) AS texts, "
            f"{means} FROM {TEXTS} WHERE {clause} GROUP BY agent_id, period "
            "ORDER BY agent_id, period",
            params,
        )
    )


def totals(db: sqlite_utils.Database) -> dict[tuple[str, str], list[float]]:
    """Per (kind, language): texts, sum of LIX, sentences and passive sentences, for the
    metrics."""
    return {
        (kind, language): [n, lix_sum, sentences, passive]
        for kind, language, n, lix_sum, sentences, passive in db.execute(
            f"SELECT kind, language, COUNT(*), SUM(lix), SUM(sentences), "
            f"SUM(passive_sentences) FROM {TEXTS} GROUP BY kind, language"
        ).fetchall()
    }
