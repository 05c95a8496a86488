"""``medlytt desk``: the program on the agent's PC.

It follows the headset (``medlytt.hardware.HeadsetConnection``: any USB HID telephony
headset, through unplug and replug) and the local baresip (ctrl_tcp), turns what they
report into desk events and hands them to :class:`.link.DeskLink`.  The two work together
as a desk phone does: off hook while a call rings answers it, on hook during a call hangs
it up, and the headset's lamps show the softphone's call (ringing, in call, on hold,
muted).  Whatever is missing (no headset support, no headset, no softphone, no core yet)
is said once, clearly, and the rest keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from medlytt import utcnow
from medlytt.gateways.softphone.baresip import BaresipControl, BaresipError, PhoneCallUpdate

from .keys import load_public_key, load_secret_key
from .link import DeskLink
from .protocol import DeskEvent

log = logging.getLogger(__name__)

Say = Callable[[str], None]
RETRY_SECONDS = 3.0  # between attempts to reach baresip


@dataclass(frozen=True)
class DeskOptions:
    core: str
    agent: str
    key: str
    core_key: str
    baresip: str | None = None
    queue_size: int = 1000
    heartbeat_seconds: float = 5.0
    #: Which headset when several are attached (``0b0e:``, a name, a hidraw path).
    headset_match: str | None = None


def headset_connection(match: str | None = None) -> tuple[Any | None, str]:
    """A ``medlytt.hardware.HeadsetConnection`` (follows unplug and replug), or None and why
    there is none.  Imported here, not at the top: the desk runs without the package."""
    try:
        hardware = importlib.import_module("medlytt.hardware")
    except ImportError:
        return None, "no headset support installed (medlytt.hardware is missing)"
    connection = getattr(hardware, "HeadsetConnection", None)
    if not callable(connection):
        return (
            None,
            "no headset support in this Medlytt (medlytt.hardware has no HeadsetConnection)",
        )
    return connection(match=match), "looking for a headset"


def desk_event_of(report: Any) -> DeskEvent | None:
    """The desk event of one ``medlytt.hardware.HeadsetEvent`` (hook or mute), or None for
    what the core does not take (other buttons, attach and detach).  Read by attribute, so
    the desk does not depend on the hardware package's classes."""
    kind = str(getattr(report, "kind", ""))
    device = str(getattr(report, "device", "") or "headset")[:200]
    at = getattr(report, "at", None) or utcnow()
    if kind in ("off_hook", "on_hook"):
        return DeskEvent(kind="headset.hook", at=at, device=device, off_hook=kind == "off_hook")
    if kind == "mute_toggled" and getattr(report, "muted", None) is not None:
        return DeskEvent(kind="headset.mute", at=at, device=device, muted=bool(report.muted))
    return None


def headset_status(report: Any) -> str | None:
    """What to tell the agent about a headset attach, detach or absence."""
    kind, device = str(getattr(report, "kind", "")), getattr(report, "device", "") or "headset"
    detail = str(getattr(report, "detail", "") or "")
    if kind == "connected":
        return f"headset attached: {device}"
    if kind == "disconnected":
        return f"headset unplugged: {device}{'; ' + detail if detail else ''}"
    if kind == "absent":
        return f"no headset attached ({detail})" if detail else "no headset attached"
    return None


class Desk:
    """One desk: the link to the core, the headset, the softphone."""

    def __init__(self, options: DeskOptions, say: Say, headset: Any = None) -> None:
        """``headset``: a ``medlytt.hardware.HeadsetConnection`` to read instead of the
        one made at :meth:`run` (tests give one over a scripted device)."""
        public, secret = load_secret_key(options.key)
        core_key = load_public_key(options.core_key)
        self.options = options
        self.say = say
        self.public_key = public.decode()
        self.link = DeskLink(
            options.core,
            options.agent,
            public_key=public,
            secret_key=secret,
            core_key=core_key,
            queue_size=options.queue_size,
            heartbeat_seconds=options.heartbeat_seconds,
        )
        self.phone: BaresipControl | None = None
        self._given_headset = headset
        self.headset: Any = None  # medlytt.hardware.HeadsetConnection, while one is open
        self.muted = False
        self.phone_call: PhoneCallUpdate | None = None  # the softphone's current call

    async def run(self) -> None:
        self.say(
            f"medlytt desk: agent {self.options.agent}, sending to {self.options.core} "
            f"(CURVE), queue of {self.options.queue_size} events"
        )
        tasks = [
            asyncio.create_task(self.link.run(), name="desk link"),
            asyncio.create_task(self.follow_headset(), name="desk headset"),
            asyncio.create_task(self.follow_softphone(), name="desk softphone"),
            asyncio.create_task(self.report(), name="desk status"),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # the link's errors (a bad endpoint) end the desk
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    # -- headset -------------------------------------------------------------------------------

    async def follow_headset(self) -> None:
        connection, why = (
            (self._given_headset, "")
            if self._given_headset is not None
            else headset_connection(self.options.headset_match)
        )
        if connection is None:
            self._headset(f"{why}; running without headset events")
            return
        self.headset = connection
        try:
            async for report in connection.events():
                status = headset_status(report)
                if status is not None:
                    self._headset(status)
                event = desk_event_of(report)
                if event is not None:
                    self.link.send(event)
                    await self._work_softphone(event)
        except Exception as exc:  # hidapi missing (HeadsetSupportMissing), or worse
            self._headset(f"no headset support: {exc}; running without headset events")
        finally:
            self.headset = None
            with contextlib.suppress(Exception):
                connection.close()

    def _headset(self, status: str) -> None:
        if status != self.link.headset:
            self.link.headset = status
            self.say(f"medlytt desk: {status}")

    async def _work_softphone(self, event: DeskEvent) -> None:
        """The hook switch answers a ringing call and hangs up an established one."""
        phone, call = self.phone, self.phone_call
        if phone is None or call is None or event.kind != "headset.hook":
            return
        with contextlib.suppress(BaresipError):
            if event.off_hook and call.state in ("incoming", "ringing"):
                await phone.accept()
            elif not event.off_hook and call.state in ("established", "resumed", "held"):
                await phone.hangup()

    # -- softphone ------------------------------------------------------------------------------

    async def follow_softphone(self) -> None:
        address = self.options.baresip
        if address is None:
            self.say("medlytt desk: no softphone (give --baresip HOST:PORT for baresip's ctrl_tcp)")
            return
        said = False
        while True:
            phone = BaresipControl(address)
            try:
                await phone.connect()
            except BaresipError as exc:
                if not said:
                    self.say(f"medlytt desk: {exc}; retrying every {RETRY_SECONDS:.0f} s")
                    said = True
                await asyncio.sleep(RETRY_SECONDS)
                continue
            self.say(f"medlytt desk: softphone connected (baresip at {address})")
            said, self.phone = False, phone
            try:
                async for update in phone.updates():
                    if update.state in ("muted", "unmuted"):
                        self.muted = update.state == "muted"
                    else:  # the call's own state; a mute does not change it
                        self.phone_call = None if update.state == "closed" else update
                        self.muted = self.muted and update.state != "closed"
                    await self._show_on_headset()
                    self.link.send(
                        DeskEvent(
                            kind="softphone.call",
                            at=update.at,
                            device="baresip",
                            phone_call_id=update.phone_call_id,
                            state=update.state,
                            direction=update.direction,
                            peer=update.peer,
                            reason=update.reason,
                        )
                    )
            finally:
                self.phone = self.phone_call = None
                await phone.close()
            self.say("medlytt desk: softphone connection lost; reconnecting")

    async def _show_on_headset(self) -> None:
        """Light the headset's ring, off-hook, hold and mute lamps from the phone's call."""
        if self.headset is None:
            return
        hardware = importlib.import_module("medlytt.hardware")
        state = self.phone_call.state if self.phone_call is not None else "closed"
        lights = hardware.HeadsetLights(
            ringing=state in ("incoming", "ringing"),
            in_call=state in ("established", "resumed", "held"),
            on_hold=state == "held",
            muted=self.muted,
        )
        with contextlib.suppress(Exception):  # a lamp that fails is no reason to stop
            await self.headset.set_leds(lights)

    # -- status ---------------------------------------------------------------------------------

    async def report(self) -> None:
        """Say when the core starts or stops answering, and when it refuses this desk."""
        connected, refused, waited, warned = False, None, 0.0, False
        while True:
            await asyncio.sleep(0.5)
            link = self.link
            waited += 0.5
            if not warned and waited >= 3 * link.heartbeat_seconds and not link.connected:
                warned = True
                self.say(
                    f"medlytt desk: no answer from the core at {link.core} yet: it is "
                    f"unreachable, or its [desk] allowed_keys does not list this desk's "
                    f"public key {self.public_key}"
                )
            if link.refused != refused:
                refused = link.refused
                if refused:
                    self.say(f"medlytt desk: the core refuses this desk: {refused}")
            if link.connected != connected:
                connected = link.connected
                if connected:
                    self.say(f"medlytt desk: connected to the core ({link.queued} events queued)")
                else:
                    self.say(
                        f"medlytt desk: core not answering; keeping up to {link.queue_size} "
                        f"events ({link.dropped} dropped so far)"
                    )
