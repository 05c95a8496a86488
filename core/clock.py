"""Wall-clock time in one place, always timezone-aware UTC.

Events carry wall-clock timestamps; keeping the one call that reads the clock here lets
tests and the simulator reason about time without monkeypatching ``datetime``.
"""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)
