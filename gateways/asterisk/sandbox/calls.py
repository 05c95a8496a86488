"""Test calls into the demo queues, and their queue_log: what ``medlytt sandbox call`` does.

A call is placed through ARI into the sandbox's ``[callers]`` dialplan, whose channel
variables decide how the caller and the agents behave, so every call picks its own path
(answered, abandoned, timed out, ...) and the queue_log shows what Asterisk made of it.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Sequence

from .config import fmt_seconds
from .instance import NAME_RE, AsteriskSandbox
from .messages import SandboxError
from .queue_log import TERMINAL_EVENTS, QueueLogLine

#: A tone list in Asterisk's indications syntax: ``[!]FREQ[+FREQ][/MS]`` items, commas between.
TONES_RE = re.compile(r"^!?\d+(\+\d+)?(/\d+)?(,!?\d+(\+\d+)?(/\d+)?)*$")


def place_call(
    sandbox: AsteriskSandbox,
    queue: str,
    *,
    patience: float | None = None,
    ring: float = 1,
    talk: float = 3,
    caller_id: str = '"Medlytt test" <5550100>',
    answer: bool = True,
    max_wait: int | None = None,
    record: bool = False,
    talk_window_ms: int | None = None,
    caller_tones: str | None = None,
    agent_tones: str | None = None,
    hold: tuple[float, float] | None = None,
) -> str:
    """Originate a test caller into ``queue``; return its queue_log callid.

    The caller is ``Local/s@callers/n``: its ``;2`` half enters the queue (its uniqueid,
    returned here, is the queue_log callid) and its ``;1`` half is the caller's phone
    (uniqueid ``phone-CALLID``), which hangs up after ``patience`` seconds if given.
    (Asterisk matches unique ids by prefix, so neither id may be a prefix of the other.)
    Agents ring ``ring`` s, then talk ``talk`` s (or never answer: ``answer=False``);
    ``max_wait`` (whole seconds) is Queue()'s own timeout.

    Who talks when (the call-control tests): ``talk_window_ms`` is ``TALK_DETECT``'s
    silence window on both legs; ``caller_tones`` and ``agent_tones`` are tone lists in
    Asterisk's indications syntax (``"!0/1000,!440/2000,0"``: 1 s silence, 2 s of 440 Hz,
    then silence) that the caller's phone and the answering agent play from the answer on;
    ``hold=(after, seconds)`` has the agent (with ``agent_tones``) put the caller on music
    on hold after ``after`` seconds, for ``seconds``.
    """
    if not NAME_RE.match(queue):
        raise SandboxError(f"invalid queue name {queue!r}")
    callid = f"medlytt-{int(time.time())}-{secrets.token_hex(4)}"
    variables = {
        "MEDLYTT_QUEUE": queue,
        "MEDLYTT_CALLERID": caller_id,
        "__MEDLYTT_RING": fmt_seconds(ring),
        "__MEDLYTT_TALK": fmt_seconds(talk),
        "__MEDLYTT_ANSWER": "yes" if answer else "no",
    }
    if record:  # caller and agent record what they hear to spool/rx (tests/asterisk/driver.py)
        variables["__MEDLYTT_RECORD"] = "yes"
        variables["__MEDLYTT_CALLID"] = callid
    if patience is not None:
        variables["MEDLYTT_PATIENCE"] = fmt_seconds(patience)
    if max_wait is not None:
        variables["MEDLYTT_MAXWAIT"] = str(int(max_wait))
    if talk_window_ms is not None:
        variables["__MEDLYTT_TALK_WINDOW"] = str(int(talk_window_ms))
    for name, tones in (("CALLER", caller_tones), ("AGENT", agent_tones)):
        if tones is not None:
            if not TONES_RE.match(tones):
                raise SandboxError(f"invalid tone list {tones!r} (e.g. '!0/1000,!440/2000,0')")
            variables[f"__MEDLYTT_{name}_TONES"] = tones
    if hold is not None:
        if agent_tones is None:
            raise SandboxError("hold needs agent_tones (the agent holds from its tone pattern)")
        variables["__MEDLYTT_HOLD"] = f"{fmt_seconds(hold[0])}/{fmt_seconds(hold[1])}"
    sandbox.ari().request(
        "POST",
        "/channels",
        {
            "endpoint": "Local/s@callers/n",
            "context": "caller-phone",
            "extension": "s",
            "priority": 1,
            "callerId": caller_id,
            "timeout": 30,
            "channelId": f"phone-{callid}",
            "otherChannelId": callid,
            "variables": variables,
        },
    )
    return callid


def call_lines(sandbox: AsteriskSandbox, callid: str) -> list[QueueLogLine]:
    """The queue_log lines of one call."""
    return [line for line in sandbox.queue_log() if line.callid == callid]


def wait_for_call(
    sandbox: AsteriskSandbox,
    callid: str,
    *,
    events: Sequence[str] | None = None,
    timeout: float = 30,
) -> list[QueueLogLine]:
    """Wait until one of ``events`` (default: any call-ending event) is logged for a call.

    Returns the call's lines; raises SandboxError with what was logged on timeout.
    """
    wanted = set(events) if events is not None else TERMINAL_EVENTS
    deadline = time.monotonic() + timeout
    while True:
        lines = call_lines(sandbox, callid)
        if any(line.event in wanted for line in lines):
            return lines
        if time.monotonic() > deadline:
            got = [line.event for line in lines]
            raise SandboxError(f"call {callid}: none of {sorted(wanted)} in {timeout} s: {got}")
        time.sleep(0.1)
