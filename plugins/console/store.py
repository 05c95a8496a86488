"""The console's own table: each user's profile (the phone Medlytt rings, the language)."""

from __future__ import annotations

from typing import Any

import sqlite_utils
from medlytt import Migration

PROFILES = "console_profiles"


def _create(db: sqlite_utils.Database) -> None:
    db.execute(
        f"""CREATE TABLE IF NOT EXISTS {PROFILES} (
            user TEXT PRIMARY KEY COLLATE NOCASE,
            phone TEXT,
            language TEXT
        )"""
    )


MIGRATIONS = [Migration("create_console_profiles", _create)]


def profile(db: sqlite_utils.Database, user: str) -> dict[str, Any]:
    """The profile of ``user`` (empty values when they saved none)."""
    row = db.execute(f"SELECT phone, language FROM {PROFILES} WHERE user = ?", [user]).fetchone()
    return {"phone": row[0], "language": row[1]} if row else {"phone": None, "language": None}


def save_profile(db: sqlite_utils.Database, user: str, phone: str | None, language: str) -> None:
    db.execute(
        f"INSERT INTO {PROFILES} (user, phone, language) VALUES (?, ?, ?) "
        "ON CONFLICT (user) DO UPDATE SET phone = excluded.phone, language = excluded.language",
        [user, phone, language],
    )
