"""What only the tests need to inspect a sandbox call: where its legs' recordings are.

The sandbox's dialplan (``gateways/asterisk/sandbox_conf/extensions.conf``) records what a
test leg hears into the instance's ``spool/rx``: the caller and the agent of a call placed
with ``place_call(..., record=True)``, and every supervisor phone
``Local/sup-NAME@supervisor/n``. Placing calls and reading their queue_log stays in
``medlytt.gateways.asterisk.sandbox`` (``medlytt sandbox call`` needs them too).
"""

from __future__ import annotations

import time
from pathlib import Path

from medlytt.gateways.asterisk.sandbox import AsteriskSandbox


def rx_file(sandbox: AsteriskSandbox, name: str, leg: str) -> Path:
    """What a test leg heard: ``leg`` "caller" or "agent" of a call placed with
    ``record=True`` (``name`` its callid), or "supervisor" (``name`` the extension
    after ``sup-`` of ``Local/sup-NAME@supervisor/n``)."""
    rx = sandbox.instance_dir / "spool" / "rx"
    if leg == "caller":
        path = rx / f"phone-{name}-rx.wav"
    elif leg == "agent":
        path = rx / f"{name}-agent-rx.wav"
    else:
        path = rx / f"sup-{name}-rx.wav"
    return closed_wav(path)


def closed_wav(path: Path, timeout: float = 10.0) -> Path:
    """``path`` once Asterisk has closed it.  A leg's hang-up reaches Medlytt before the
    leg's ``Record()`` has written the WAV header's sizes (or even the header), so a test
    that reads at once may read a half-written file; this waits for a whole one."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            data = b""
        if (
            len(data) >= 44
            and data[:4] == b"RIFF"
            and data[8:12] == b"WAVE"
            and int.from_bytes(data[4:8], "little") + 8 == len(data)
        ):
            return path
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{path}: no complete WAV file after {timeout:.0f} s ({len(data)} bytes)"
            )
        time.sleep(0.05)
