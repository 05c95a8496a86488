"""What the sandbox tells the person running it: errors, progress lines and log tails."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

Log = Callable[[str], None]


class SandboxError(RuntimeError):
    """Raised with a message meant for the person running the sandbox."""


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def tail(path: Path, lines: int = 30, offset: int = 0) -> str:
    """The last ``lines`` lines of a log file, reading only what follows ``offset``."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            text = handle.read().decode(errors="replace")
    except OSError:
        return f"(no {path})"
    return "\n".join(text.strip("\n").splitlines()[-lines:])
