"""``medlytt headset``: look at a headset's HID controls, list and watch attached headsets.

* ``medlytt headset describe FILE [--json]``: the Telephony- and LED-page controls of a
  report descriptor (a raw binary dump such as
  ``/sys/class/hidraw/hidraw0/device/report_descriptor``, or hex bytes as text).
* ``medlytt headset list``: the headsets attached to this computer (needs hidapi).
* ``medlytt headset watch``: print the attached headset's events until Ctrl-C.

Exit status: 0 on success, 1 when headset support (hidapi) is missing or no headset is
attached to ``list``, 2 for a descriptor that cannot be read, naming the problem.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import click

from .headset_reports import HeadsetEvent
from .hid_descriptor import DescriptorError, HidControl, headset_controls, read_descriptor_file
from .hidapi_backend import NO_HEADSET, HeadsetConnection, HeadsetSupportMissing, list_headsets


@click.group()
def headset() -> None:
    """USB headsets: describe a HID descriptor, list and watch attached headsets."""


@headset.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per usage.")
def describe(file: Path, as_json: bool) -> None:
    """Show the Telephony (0x0B) and LED (0x08) controls of the report descriptor in FILE.

    FILE holds the descriptor as raw bytes or as hex text ("05 0b 09 05 ...").  Offsets
    count bits from the first bit after the Report ID byte; report 0 means the device uses
    no Report IDs.
    """
    try:
        controls = headset_controls(read_descriptor_file(file))
    except DescriptorError as exc:
        click.echo(f"medlytt: {file}: {exc}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps([c.as_json() for c in controls], indent=2))
        return
    if not controls:
        click.echo("no Telephony-page (0x0B) or LED-page (0x08) controls: not a telephony device")
        return
    _table(controls)


def _table(controls: list[HidControl]) -> None:
    header = ("TYPE", "REPORT", "BIT", "SIZE", "USAGE", "NAME", "MODE", "FLAGS")
    rows = [
        (
            c.type,
            str(c.report_id),
            str(c.bit),
            str(c.size),
            f"0x{c.page:02x}:0x{c.usage:04x}",
            c.name,
            "relative" if c.relative else "absolute",
            ",".join(
                flag
                for flag, on in (
                    (f"array[{c.count}]={c.array_value}", c.array),
                    ("constant", c.constant),
                )
                if on
            ),
        )
        for c in controls
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


@headset.command("list")
def list_command() -> None:
    """List attached headsets (HID interfaces with a Telephony collection)."""
    try:
        found = list_headsets()
    except HeadsetSupportMissing as exc:
        click.echo(f"medlytt: {exc}", err=True)
        sys.exit(1)
    if not found:
        click.echo(f"medlytt: {NO_HEADSET.split(';')[0]}", err=True)
        sys.exit(1)
    for info in found:
        click.echo(info.label)


@headset.command()
@click.option("--match", help="A path, vid:pid (hex) or part of the product name.")
def watch(match: str | None) -> None:
    """Print the headset's events (hook, mute, buttons, plug and unplug) until Ctrl-C."""
    try:
        asyncio.run(_watch(match))
    except HeadsetSupportMissing as exc:
        click.echo(f"medlytt: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


async def _watch(match: str | None) -> None:
    connection = HeadsetConnection(match=match)
    try:
        async for event in connection.events():
            click.echo(_describe_event(event))
    finally:
        connection.close()


def _describe_event(event: HeadsetEvent) -> str:
    extra = {
        "mute_toggled": f"muted={event.muted}",
        "button": event.button or "",
    }.get(event.kind, event.detail)
    return f"{event.at:%H:%M:%S} {event.kind} {extra} {event.device}".rstrip()
