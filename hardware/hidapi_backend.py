"""USB headsets through hidapi: find them, open them, follow them through unplug and replug.

hidapi (PyPI ``hidapi``, the optional extra ``medlytt[headset]``) is imported only when a
headset is looked for, so Medlytt runs without it; without it, :func:`hidapi_transport`
raises :class:`HeadsetSupportMissing` naming the extra to install.  On Linux the ``hidraw``
backend of that package is used: it reads ``/dev/hidraw*``, which the udev rule in
docs/headsets.md opens to the agent's login, and it does not detach the kernel's driver
(the headset's audio keeps working).

The I/O sits behind two small protocols, :class:`HidTransport` (find and open) and
:class:`HidChannel` (read, write, close), so the reconnect logic of
:class:`HeadsetConnection` is the same code for hidapi and for the scripted device the
tests drive.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from .headset_reports import HeadsetDecoder, HeadsetEvent, HeadsetLights, output_reports
from .hid_descriptor import DescriptorError, ReportDescriptor, parse_descriptor
from .hid_usages import TELEPHONY_PAGE

INSTALL_HINT = "pip install 'medlytt[headset]'"
NO_HEADSET = (
    "no USB headset with telephony controls (HID usage page 0x0B) is attached; "
    "waiting for one (docs/headsets.md)"
)


class HeadsetSupportMissing(RuntimeError):
    """hidapi is not installed: headsets cannot be used (the rest of Medlytt can)."""


@dataclass(frozen=True)
class HeadsetInfo:
    """One attached headset, as the operating system lists it."""

    path: str
    vendor_id: int
    product_id: int
    product: str = ""
    manufacturer: str = ""
    serial: str = ""

    @property
    def label(self) -> str:
        name = " ".join(p for p in (self.manufacturer, self.product) if p) or "headset"
        return f"{name} ({self.vendor_id:04x}:{self.product_id:04x}) at {self.path}"

    def matches(self, wanted: str | None) -> bool:
        """``wanted``: a path, ``vid:pid`` in hex, or part of the product name."""
        if not wanted:
            return True
        wanted = wanted.lower()
        return (
            wanted == self.path.lower()
            or wanted == f"{self.vendor_id:04x}:{self.product_id:04x}"
            or wanted in f"{self.manufacturer} {self.product}".lower()
        )


class HidChannel(Protocol):
    """An opened HID device."""

    def descriptor(self) -> bytes:
        """The device's report descriptor."""
        ...

    def read(self, timeout_ms: int) -> bytes:
        """One input report (Report ID first when used); ``b""`` when none came in time.

        Raises ``OSError`` when the device is gone.
        """
        ...

    def write(self, report: bytes) -> None:
        """Send one output report; ``OSError`` when the device is gone."""
        ...

    def close(self) -> None: ...


class HidTransport(Protocol):
    """Finds and opens headsets."""

    def find(self) -> list[HeadsetInfo]: ...

    def open(self, info: HeadsetInfo) -> HidChannel: ...


def _hidapi_module() -> Any:
    """cython-hidapi's ``hidraw`` module on Linux (kernel hidraw nodes), ``hid`` elsewhere."""
    names = ["hidraw", "hid"] if sys.platform.startswith("linux") else ["hid"]
    for name in names:
        try:
            return __import__(name)
        except ImportError:
            continue
    raise HeadsetSupportMissing(
        f"headset support needs hidapi, which is not installed: {INSTALL_HINT}"
    )


class _HidapiChannel:
    def __init__(self, module: Any, info: HeadsetInfo) -> None:
        self._device = module.device()
        try:
            self._device.open_path(info.path.encode())
        except (OSError, ValueError) as exc:
            raise OSError(
                f"cannot open {info.label}: {exc} (is the udev rule of docs/headsets.md "
                "installed, and are you logged in at the desk?)"
            ) from exc
        self._path = info.path

    def descriptor(self) -> bytes:
        try:
            return bytes(self._device.get_report_descriptor())
        except (AttributeError, OSError, ValueError):
            # hidapi < 0.14 has no get_report_descriptor: hidraw exposes it in sysfs
            node = Path(self._path).name
            return Path(f"/sys/class/hidraw/{node}/device/report_descriptor").read_bytes()

    def read(self, timeout_ms: int) -> bytes:
        try:
            return bytes(self._device.read(64, timeout_ms))
        except ValueError as exc:  # hidapi raises ValueError once the device is closed
            raise OSError(str(exc)) from exc

    def write(self, report: bytes) -> None:
        try:
            written = self._device.write(report)
        except ValueError as exc:
            raise OSError(str(exc)) from exc
        if written < 0:
            raise OSError(f"write to {self._path} failed")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._device.close()


class HidapiTransport:
    """Headsets as hidapi sees them: every HID interface with a Telephony collection."""

    def __init__(self) -> None:
        self._module = _hidapi_module()

    def find(self) -> list[HeadsetInfo]:
        seen: dict[str, HeadsetInfo] = {}
        for entry in self._module.enumerate():
            if entry.get("usage_page") != TELEPHONY_PAGE:
                continue
            path = entry["path"]
            path = path.decode(errors="replace") if isinstance(path, bytes) else str(path)
            seen.setdefault(
                path,
                HeadsetInfo(
                    path=path,
                    vendor_id=entry.get("vendor_id", 0),
                    product_id=entry.get("product_id", 0),
                    product=entry.get("product_string") or "",
                    manufacturer=entry.get("manufacturer_string") or "",
                    serial=entry.get("serial_number") or "",
                ),
            )
        return list(seen.values())

    def open(self, info: HeadsetInfo) -> HidChannel:
        return _HidapiChannel(self._module, info)


def hidapi_transport() -> HidapiTransport:
    """The hidapi transport; :class:`HeadsetSupportMissing` when hidapi is not installed."""
    return HidapiTransport()


def list_headsets(transport: HidTransport | None = None) -> list[HeadsetInfo]:
    """Attached headsets (HID interfaces with a Telephony-page collection)."""
    return (transport or hidapi_transport()).find()


class HeadsetConnection:
    """One headset at the desk, followed through unplug and replug.

    ``events()`` yields :class:`HeadsetEvent` objects for as long as it is iterated: the
    headset's own (off-hook, on-hook, mute toggled, buttons) and the connection's
    (``connected``, ``disconnected``, and ``absent`` once while no headset is attached).
    It looks for a headset again every ``reopen_seconds`` after it went away.

    ``set_leds(lights)`` lights the headset's lamps from the desk's view of the call and
    remembers them, so a replugged headset shows the same state.  A mute press is
    acknowledged at once by relighting the mute LED with the new state (devices reset their
    mute otherwise).
    """

    def __init__(
        self,
        transport: HidTransport | None = None,
        *,
        match: str | None = None,
        reopen_seconds: float = 2.0,
        read_timeout_ms: int = 200,
        repeat_window: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._transport = transport
        self.match = match
        self.reopen_seconds = reopen_seconds
        self.read_timeout_ms = read_timeout_ms
        self.repeat_window = repeat_window
        self._clock = clock
        self._lights = HeadsetLights()
        self._channel: HidChannel | None = None
        self._descriptor: ReportDescriptor | None = None
        self._decoder: HeadsetDecoder | None = None
        self._write_lock = threading.Lock()
        self.device: HeadsetInfo | None = None

    @property
    def lights(self) -> HeadsetLights:
        return self._lights

    async def set_leds(self, lights: HeadsetLights) -> None:
        """Show ``lights`` on the headset (now if one is open, else once one is)."""
        previous, self._lights = self._lights, lights
        if self._decoder is not None:
            if (lights.in_call or lights.on_hold) and not (previous.in_call or previous.on_hold):
                self._decoder.host_lit_off_hook(self._clock())
            self._decoder.host_set_mute(lights.muted)
        await self._write_lights()

    async def _write_lights(self) -> None:
        channel, descriptor = self._channel, self._descriptor
        if channel is None or descriptor is None:
            return
        reports = output_reports(descriptor, self._lights)
        await asyncio.to_thread(self._write_all, channel, reports)

    def _write_all(self, channel: HidChannel, reports: list[bytes]) -> None:
        with self._write_lock:
            for report in reports:
                with contextlib.suppress(OSError):  # a gone device shows on the next read
                    channel.write(report)

    async def events(self) -> AsyncIterator[HeadsetEvent]:
        """The headset's events, reconnecting for ever (cancel the iteration to stop)."""
        transport = self._transport or hidapi_transport()
        said_absent = ""
        while True:
            problem = await self._open(transport)
            if problem:
                if problem != said_absent:
                    yield HeadsetEvent("absent", detail=problem)
                    said_absent = problem
                await asyncio.sleep(self.reopen_seconds)
                continue
            said_absent = ""
            assert self.device is not None and self._channel is not None
            await self._write_lights()  # the lamps as last set, before anyone hears of it
            yield HeadsetEvent("connected", device=self.device.label)
            async for event in self._read_until_gone(self._channel):
                yield event
            self._close()
            yield HeadsetEvent("disconnected", device=self.device.label, detail="unplugged?")
            await asyncio.sleep(self.reopen_seconds)

    async def _open(self, transport: HidTransport) -> str:
        """Open a headset; the reason when none could be opened, else ``""``."""
        try:
            listed = await asyncio.to_thread(transport.find)
        except OSError as exc:
            return f"cannot list USB HID devices: {exc}"
        found = [h for h in listed if h.matches(self.match)]
        if not found:
            return NO_HEADSET if not self.match else f"no attached headset matches {self.match!r}"
        info = found[0]
        try:
            channel = await asyncio.to_thread(transport.open, info)
        except OSError as exc:
            return str(exc)
        try:
            descriptor = parse_descriptor(await asyncio.to_thread(channel.descriptor))
        except (OSError, DescriptorError) as exc:
            channel.close()
            return f"cannot read the report descriptor of {info.label}: {exc}"
        self.device, self._channel, self._descriptor = info, channel, descriptor
        self._decoder = HeadsetDecoder(
            descriptor, device=info.label, repeat_window=self.repeat_window
        )
        self._decoder.host_set_mute(self._lights.muted)
        return ""

    async def _read_until_gone(self, channel: HidChannel) -> AsyncIterator[HeadsetEvent]:
        decoder = self._decoder
        assert decoder is not None
        while True:
            try:
                report = await asyncio.to_thread(channel.read, self.read_timeout_ms)
            except OSError:
                return
            if not report:
                continue
            for event in decoder.feed(report, self._clock()):
                if event.kind == "mute_toggled" and event.muted is not None:
                    # acknowledge: the device resets its mute unless the host lights it
                    self._lights = replace(self._lights, muted=event.muted)
                    await self._write_lights()
                yield event

    def _close(self) -> None:
        if self._channel is not None:
            self._channel.close()
        self._channel = self._descriptor = self._decoder = None

    def close(self) -> None:
        """Release the device (the iteration of ``events()`` should be cancelled first)."""
        self._close()


async def headset_events(
    transport: HidTransport | None = None, *, match: str | None = None
) -> AsyncIterator[HeadsetEvent]:
    """The events of the first attached headset (or the one ``match`` names), for ever."""
    connection = HeadsetConnection(transport, match=match)
    try:
        async for event in connection.events():
            yield event
    finally:
        connection.close()
