"""The headset backend: reconnecting through unplug and replug, acknowledging mute, and
running with no headset and without hidapi at all (issue 13).

No USB headset (and no /dev/uhid to make a virtual one) exists on the machines that run
the tests, so the reconnect logic is driven by a scripted device behind the same
:class:`HidTransport` protocol hidapi is used through; the real hidapi is run too, where it
finds nothing, which is what a desk without a headset sees.
"""

from __future__ import annotations

import asyncio
import queue
import subprocess
import sys

import pytest
from hid_items import (
    DATA_VAR_ABS,
    DATA_VAR_REL,
    INPUT,
    LED,
    OUTPUT,
    RCOUNT,
    RID,
    USAGE,
    USAGE_PAGE,
    app,
    item,
    one_bit_fields,
)
from medlytt.hardware import HeadsetConnection, HeadsetInfo, HeadsetLights, HeadsetSupportMissing
from medlytt.hardware.hidapi_backend import NO_HEADSET, HidapiTransport
from support import MEDLYTT, medlytt_env
from test_hid_reports import HOOK, MUTE

#: Report 2 in: Hook Switch bit 0, Phone Mute bit 1; out: LED Off-Hook bit 0, Mute bit 1.
DESCRIPTOR = app(
    item(RID, 2),
    item(USAGE, 0x20),
    one_bit_fields(1),
    item(INPUT, DATA_VAR_ABS),
    item(USAGE, 0x2F),
    item(INPUT, DATA_VAR_REL),
    item(RCOUNT, 6),
    item(INPUT, 0x03),
    item(USAGE_PAGE, LED),
    item(USAGE, 0x17),
    item(USAGE, 0x09),
    item(RCOUNT, 2),
    item(OUTPUT, DATA_VAR_ABS),
    item(RCOUNT, 6),
    item(OUTPUT, 0x03),
)
INFO = HeadsetInfo("/dev/hidraw7", 0x0B0E, 0x0307, product="Scripted Headset", manufacturer="Test")
UNPLUG = b"unplug"
WAIT = 10.0  # seconds: a guard against a hang, never a speed claim


class ScriptedChannel:
    def __init__(self) -> None:
        self.reports: queue.Queue[bytes] = queue.Queue()
        self.written: list[bytes] = []
        self.gone = False

    def descriptor(self) -> bytes:
        return DESCRIPTOR

    def read(self, timeout_ms: int) -> bytes:
        if self.gone:
            raise OSError("device gone")
        try:
            report = self.reports.get(timeout=timeout_ms / 1000)
        except queue.Empty:
            return b""
        if report == UNPLUG:
            self.gone = True
            raise OSError("device gone")
        return report

    def write(self, report: bytes) -> None:
        if self.gone:
            raise OSError("device gone")
        self.written.append(report)

    def close(self) -> None:
        self.gone = True


class ScriptedTransport:
    def __init__(self) -> None:
        self.attached = False
        self.channels: list[ScriptedChannel] = []

    def find(self) -> list[HeadsetInfo]:
        return [INFO] if self.attached else []

    def open(self, info: HeadsetInfo) -> ScriptedChannel:
        channel = ScriptedChannel()
        self.channels.append(channel)
        return channel


async def test_a_headset_followed_through_unplug_and_replug():
    transport = ScriptedTransport()
    connection = HeadsetConnection(transport, reopen_seconds=0.01, read_timeout_ms=10)
    events = connection.events()

    async def next_event():
        return await asyncio.wait_for(anext(events), WAIT)

    absent = await next_event()
    assert (absent.kind, absent.detail) == ("absent", NO_HEADSET)

    transport.attached = True
    connected = await next_event()
    assert connected.kind == "connected" and "Scripted Headset (0b0e:0307)" in connected.device
    first = transport.channels[0]
    assert first.written == [b"\x02\x00"]  # the lamps as Medlytt last knew them: all off

    first.reports.put(bytes([2, HOOK]))
    assert (await next_event()).kind == "off_hook"
    await connection.set_leds(HeadsetLights(in_call=True))
    assert first.written[-1] == b"\x02\x01"  # Off-Hook lit

    first.reports.put(bytes([2, HOOK | MUTE]))
    muted = await next_event()
    assert (muted.kind, muted.muted) == ("mute_toggled", True)
    assert first.written[-1] == b"\x02\x03"  # acknowledged: Mute lit with Off-Hook

    transport.attached = False
    first.reports.put(UNPLUG)
    assert (await next_event()).kind == "disconnected"
    assert (await next_event()).kind == "absent"

    transport.attached = True
    assert (await next_event()).kind == "connected"
    second = transport.channels[1]
    assert second.written == [b"\x02\x03"]  # the replugged headset shows the call again
    second.reports.put(bytes([2, HOOK]))
    second.reports.put(bytes([2, 0]))
    # the new decoder starts on-hook, so the hook report is an answer again, then a hang-up
    assert [(await next_event()).kind for _ in range(2)] == ["off_hook", "on_hook"]
    await events.aclose()
    connection.close()


async def test_absent_is_said_once_while_nothing_is_attached():
    transport = ScriptedTransport()
    connection = HeadsetConnection(transport, reopen_seconds=0.01)
    events = connection.events()
    assert (await asyncio.wait_for(anext(events), WAIT)).kind == "absent"
    follow = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0.1)  # several looks for a headset
    assert not follow.done()
    transport.attached = True
    assert (await asyncio.wait_for(follow, WAIT)).kind == "connected"
    await events.aclose()
    connection.close()


async def test_a_match_that_fits_no_headset_says_so():
    transport = ScriptedTransport()
    transport.attached = True
    events = HeadsetConnection(transport, match="047f:", reopen_seconds=0.01).events()
    event = await asyncio.wait_for(anext(events), WAIT)
    assert (event.kind, event.detail) == ("absent", "no attached headset matches '047f:'")
    await events.aclose()


def test_headsets_match_by_path_ids_or_name():
    assert INFO.matches("0b0e:0307") and INFO.matches("scripted") and INFO.matches("/dev/hidraw7")
    assert not INFO.matches("047f:c056")


def no_real_headset() -> bool:
    try:
        return HidapiTransport().find() == []
    except HeadsetSupportMissing:
        return False


@pytest.mark.skipif(not no_real_headset(), reason="a real headset is attached (or no hidapi)")
async def test_the_real_hidapi_with_no_headset_says_none_is_attached():
    events = HeadsetConnection(reopen_seconds=0.01).events()  # hidapi, the real library
    event = await asyncio.wait_for(anext(events), WAIT)
    assert (event.kind, event.detail) == ("absent", NO_HEADSET)
    await events.aclose()


@pytest.mark.skipif(not no_real_headset(), reason="a real headset is attached (or no hidapi)")
def test_headset_list_with_no_headset_says_so():
    result = subprocess.run(
        [MEDLYTT, "headset", "list"], capture_output=True, text=True, env=medlytt_env(), timeout=60
    )
    assert result.returncode == 1
    assert "no USB headset with telephony controls (HID usage page 0x0B) is attached" in (
        result.stderr
    )


WITHOUT_HIDAPI = """
import sys
sys.modules["hid"] = None     # import hid -> ImportError, as when hidapi is not installed
sys.modules["hidraw"] = None
sys.modules["busylight_core"] = None
import asyncio
import medlytt.hardware as hw
from medlytt.cli import cli, _add_plugin_commands
_add_plugin_commands()
print("imported")
try:
    asyncio.run(anext(hw.HeadsetConnection().events()))
except hw.HeadsetSupportMissing as exc:
    print(exc)
try:
    hw.Busylights().show(hw.light_colour("available"))
except hw.BusylightSupportMissing as exc:
    print(exc)
"""


def test_medlytt_runs_without_hidapi_and_says_what_to_install():
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_HIDAPI], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "imported",
        "headset support needs hidapi, which is not installed: pip install 'medlytt[headset]'",
        "busylight support is not installed: pip install 'medlytt[busylight]'",
    ]
