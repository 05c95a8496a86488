"""Logging set-up for the ``medlytt`` command: text for people, JSON lines for collectors."""

from __future__ import annotations

import json
import logging
import re
import sys


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the fields log collectors index."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


#: What a secret looks like in a log line: Medlytt's tokens, an Authorization value,
#: credentials in a URL.
SECRETS = (
    (re.compile(r"mlt_[A-Za-z0-9_-]{6,}"), "mlt_***"),
    (re.compile(r"\b(Bearer|Basic)\s+[^\s'\",]+", re.IGNORECASE), r"\1 ***"),
    (re.compile(r"([a-z][a-z0-9+.-]*://)[^/@\s]*@", re.IGNORECASE), r"\1***@"),
)


def scrub(text: str) -> str:
    """``text`` with anything shaped like a secret replaced (see :data:`SECRETS`)."""
    for pattern, replacement in SECRETS:
        text = pattern.sub(replacement, text)
    return text


class ScrubSecrets(logging.Filter):
    """The last line of defence: no log record leaves with a token or a password in it,
    whatever a library put into its message or traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = scrub(message)
        if record.exc_info and record.exc_info[1] is not None:
            formatted = logging.Formatter().formatException(record.exc_info)
            scrubbed = scrub(formatted)
            if scrubbed != formatted:
                record.exc_info = None
                clean = f"{clean}\n{scrubbed}"
        if clean != message:
            record.msg, record.args = clean, None
        return True


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ScrubSecrets())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
