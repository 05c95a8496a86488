"""What only the tests need to inspect a sandbox call: where its legs' recordings are.

The sandbox's dialplan (``gateways/asterisk/sandbox_conf/extensions.conf``) records what a
test leg hears into the instance's ``spool/rx``: the caller and the agent of a call placed
with ``place_call(..., record=True)``, and every supervisor phone
``Local/sup-NAME@supervisor/n``. Placing calls and reading their queue_log stays in
``medlytt.gateways.asterisk.sandbox`` (``medlytt sandbox call`` needs them too).
"""

from __future__ import annotations

from pathlib import Path

from medlytt.gateways.asterisk.sandbox import AsteriskSandbox


def rx_file(sandbox: AsteriskSandbox, name: str, leg: str) -> Path:
    """What a test leg heard: ``leg`` "caller" or "agent" of a call placed with
    ``record=True`` (``name`` its callid), or "supervisor" (``name`` the extension
    after ``sup-`` of ``Local/sup-NAME@supervisor/n``)."""
    rx = sandbox.instance_dir / "spool" / "rx"
    if leg == "caller":
        return rx / f"phone-{name}-rx.wav"
    if leg == "agent":
        return rx / f"{name}-agent-rx.wav"
    return rx / f"sup-{name}-rx.wav"
