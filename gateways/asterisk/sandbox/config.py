"""The demo contact center's Asterisk configuration, rendered from ``sandbox_conf/``.

The templates stay in ``gateways/asterisk/sandbox_conf/`` (package data of
``medlytt.gateways.asterisk``); each start renders them into the instance's ``etc/``.
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any

from .messages import SandboxError

CONF_DIR = Path(__file__).resolve().parent.parent / "sandbox_conf"
"""The templates: one Asterisk config file each, with ``@@NAME@@`` placeholders."""
SECRET_FILES = frozenset({"ari.conf", "manager.conf", "pjsip.conf"})
"""Rendered files that hold passwords (written 0600)."""

ARI_USER = "medlytt"
AMI_USER = "medlytt"
ARI_APP = "medlytt"
QUEUES: tuple[str, ...] = ("support", "sales")
#: The demo's agents (queues.conf members) by name, as the README's examples call them.
AGENT_NAMES: dict[str, str] = {
    "Local/agent0@agents/n": "Nora Dahl",
    "Local/agent1@agents/n": "Ingrid Berg",
    "Local/agent2@agents/n": "Lars Lund",
    "Local/agent3@agents/n": "Sofie Moen",
    "Local/agent4@agents/n": "Jonas Lie",
    "Local/agent5@agents/n": "Emma Strand",
    "Local/agent6@agents/n": "Ola Bakke",
    "Local/agent7@agents/n": "Maja Haugen",
    "Local/agent8@agents/n": "Henrik Vik",
    "Local/agent9@agents/n": "Sara Holm",
}
#: What a customer dials for each queue ([phones] in extensions.conf).
QUEUE_NUMBERS: dict[str, str] = {"support": "500", "sales": "501", "bulk": "502"}
SIP_PHONES: tuple[str, ...] = ("1001", "1002", "2001")

_PLACEHOLDER_RE = re.compile(r"@@([A-Z0-9_]+)@@")


def debian_directories(root: Path) -> dict[str, str]:
    """Module/data/varlib folders from the root's own asterisk.conf (they differ by arch)."""
    found = {
        "astmoddir": "/usr/lib/x86_64-linux-gnu/asterisk/modules",
        "astdatadir": "/usr/share/asterisk",
        "astvarlibdir": "/var/lib/asterisk",
    }
    with contextlib.suppress(OSError):
        for line in (root / "etc" / "asterisk" / "asterisk.conf").read_text().splitlines():
            match = re.match(r"\s*(ast\w+dir)\s*=>?\s*(\S+)", line)
            if match and match.group(1) in found:
                found[match.group(1)] = match.group(2)
    if not (root / found["astmoddir"].lstrip("/")).is_dir():
        candidates = sorted(root.glob("usr/lib/*/asterisk/modules")) + sorted(
            root.glob("usr/lib/asterisk/modules")
        )
        if candidates:
            found["astmoddir"] = "/" + str(candidates[0].relative_to(root))
    return found


def fmt_seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def render_config(values: dict[str, str]) -> dict[str, str]:
    """Fill every template of ``sandbox_conf/`` with ``values`` (``@@NAME@@`` placeholders).

    ``@@...@@`` rather than ``${...}`` because Asterisk's dialplan uses ``${...}`` itself.
    An unknown placeholder is an error, not a silently broken config.
    """
    rendered = {}
    for template in sorted(CONF_DIR.iterdir()):
        if template.suffix != ".conf":
            continue
        text = template.read_text()
        missing = sorted({m for m in _PLACEHOLDER_RE.findall(text) if m not in values})
        if missing:
            raise SandboxError(f"{template.name}: no value for {', '.join(missing)}")
        rendered[template.name] = _PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], text)
    return rendered


def asterisk_toml(section: dict[str, Any]) -> str:
    """Render the ``[asterisk]`` section as TOML (strings quoted, ints bare)."""
    lines = ["[asterisk]"]
    for key, value in section.items():
        rendered = str(value) if isinstance(value, int) else json.dumps(str(value))
        lines.append(f"{key} = {rendered}")
    return "\n".join(lines) + "\n"


def walkthrough_toml(section: dict[str, Any], instance: str = "default") -> str:
    """A complete Medlytt config for trying every feature against this sandbox: the
    ``[asterisk]`` section with the agents' names, mystery calls routed through the
    sandbox's customer numbers, and a one-question survey for the ``sales`` queue (what
    ``medlytt sandbox start`` prints; the README's examples use exactly these names)."""
    names = "\n".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in AGENT_NAMES.items())
    numbers = ", ".join(f"{q} = {json.dumps(n)}" for q, n in QUEUE_NUMBERS.items())
    return (
        f"# Medlytt's config for the Asterisk sandbox {instance!r} (medlytt sandbox start)\n"
        + asterisk_toml(section)
        + "\n[asterisk.agents]  # the sandbox's queue members by name\n"
        + names
        + "\n\n[mystery_calls]  # test calls take a customer's path: 500 support, 501 sales\n"
        + 'dial = "Local/{number}@phones/n"\n'
        + f"queue_numbers = {{ {numbers} }}\n"
        + "\n[surveys]  # callers of sales are asked one question after the agent hangs up\n"
        + 'questions = [{ id = "satisfaction", prompt = "sound:beep", keys = "12345" }]\n'
        + "queues = { sales = { every = 1 } }\n"
    )
