"""Asterisk issue #2170 against a sandbox: an ARI application that reconnects under one
name while device states change.

With ``subscribeAll`` Asterisk 22 can deadlock the closing session (in
res_stasis_device_state), and the next WebSocket under that name waits for ever while
every other ARI request still answers.  Medlytt therefore subscribes to every channel and
bridge instead (``EVENT_SOURCES``); ``tests/asterisk/test_faults.py`` runs the second case
below.  Run both by hand on a new Asterisk to see whether the defect is still there::

    .venv/bin/python tests/asterisk/asterisk_2170.py subscribeAll 500
    .venv/bin/python tests/asterisk/asterisk_2170.py sources 500

Each prints the round at which the handshake hung, or that none did.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from medlytt.gateways.asterisk.ari import AriClient, AriError
from medlytt.gateways.asterisk.sandbox import AsteriskSandbox

APP = "medlytt-issue-2170"
HANDSHAKE_TIMEOUT = 10.0
DEVICES = [f"Stasis:{APP}-{n}" for n in range(20)]
"""The custom device states changed (and removed at the end)."""


@dataclass
class Outcome:
    rounds: int
    """Reconnections made (all of them when none hung)."""
    hung: str | None
    """The error of the handshake that hung, None when none did."""
    seconds: float
    device_state_changes: int


async def reconnections(sandbox: AsteriskSandbox, rounds: int, *, subscribe_all: bool) -> Outcome:
    """Open the event WebSocket under :data:`APP`, as the gateway does (or with
    ``subscribeAll``), and close it again ``rounds`` times while three clients change
    device states as fast as ARI takes them."""
    section = sandbox.asterisk_section

    def client() -> AriClient:
        return AriClient(
            section["ari_url"],
            section["ari_user"],
            section["ari_password"],
            timeout=HANDSHAKE_TIMEOUT,
        )

    stop = asyncio.Event()
    changes = 0

    async def churn(ari: AriClient) -> None:
        nonlocal changes
        try:
            while not stop.is_set():
                state = random.choice(["INUSE", "NOT_INUSE", "RINGING"])
                device = DEVICES[changes % len(DEVICES)]
                await ari.request("PUT", f"/deviceStates/{device}", params={"deviceState": state})
                changes += 1
        finally:
            await ari.close()

    ari = client()
    churners = [asyncio.create_task(churn(client())) for _ in range(3)]
    began = time.monotonic()
    made, hung = 0, None
    try:
        while made < rounds:
            made += 1
            try:
                ws = await ari.open_events([APP], subscribe_all=subscribe_all)
                if not subscribe_all:
                    await ari.subscribe(APP)
            except AriError as exc:
                hung = str(exc)
                break
            await asyncio.sleep(random.uniform(0, 0.05))
            await ws.close()
    finally:
        stop.set()
        for task in churners:
            with contextlib.suppress(AriError):
                await task
        if hung is None:  # the device states made up here are removed again
            for device in DEVICES:
                with contextlib.suppress(AriError):
                    await ari.request("DELETE", f"/deviceStates/{device}")
        await ari.close()
    return Outcome(made, hung, round(time.monotonic() - began, 1), changes)


def main() -> None:
    here = Path(__file__).resolve().parent
    sys.path[:0] = [str(here), str(here.parent)]  # conftest and what it imports
    from conftest import new_sandbox, running

    how, rounds = sys.argv[1], int(sys.argv[2])
    sandbox = new_sandbox("issue-2170")
    with running(sandbox):
        outcome = asyncio.run(reconnections(sandbox, rounds, subscribe_all=how == "subscribeAll"))
    if outcome.hung:
        print(
            f"{how}: hung at reconnection {outcome.rounds} after {outcome.seconds} s: "
            f"{outcome.hung} ({outcome.device_state_changes} device state changes)"
        )
    else:
        print(
            f"{how}: none of {outcome.rounds} reconnections hung ({outcome.seconds} s, "
            f"{outcome.device_state_changes} device state changes)"
        )


if __name__ == "__main__":
    main()
