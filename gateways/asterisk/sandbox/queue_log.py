"""Asterisk's queue_log: the lines it writes for a caller's stay in a queue."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

TERMINAL_EVENTS = frozenset(
    {"COMPLETEAGENT", "COMPLETECALLER", "ABANDON", "EXITWITHTIMEOUT", "EXITEMPTY", "EXITWITHKEY"}
)
"""queue_log events that end a caller's stay in a queue."""


@dataclass(frozen=True)
class QueueLogLine:
    """One ``time|callid|queue|agent|event|data...`` line of Asterisk's queue_log."""

    time: int
    callid: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...] = field(default=())

    @classmethod
    def parse(cls, line: str) -> QueueLogLine | None:
        """Parse a line; None for a line that is not a queue_log record."""
        parts = line.rstrip("\r\n").split("|")
        if len(parts) < 5 or not parts[0].isdigit():
            return None
        return cls(int(parts[0]), parts[1], parts[2], parts[3], parts[4], tuple(parts[5:]))

    def field_int(self, index: int) -> int:
        """``data[index]`` as an int (holdtime, talktime, waittime, ...)."""
        return int(self.data[index])


def read_queue_log(path: Path) -> list[QueueLogLine]:
    """Every parsed line of a queue_log file (empty while it does not exist)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return [line for line in map(QueueLogLine.parse, text.splitlines()) if line]
