"""Devices at the agent's desk: USB headsets (HID telephony) and busylights.

The desk agent (``medlytt desk``) uses this package through the names below; importing it
needs neither hidapi nor busylight-core (each is imported when a device is first looked for,
and its absence is a clear error then, not at import).

Headsets, the async API::

    from medlytt.hardware import HeadsetConnection, HeadsetLights

    connection = HeadsetConnection()              # hidapi; or HeadsetConnection(match="0b0e:")
    async for event in connection.events():       # runs for ever: cancel the task to stop
        ...  # event.kind: "off_hook", "on_hook", "mute_toggled" (event.muted), "button"
             # (event.button), "connected", "disconnected", "absent" (event.detail says why)
    await connection.set_leds(HeadsetLights(in_call=True, muted=False))   # from another task

``events()`` follows the headset through unplug and replug (it looks again every
``reopen_seconds``), yields ``absent`` once while none is attached (``event.detail`` is the
sentence to show the agent), and acknowledges a mute press by lighting the mute LED.
``set_leds`` may be called at any time; the lamps are remembered for the next headset.
``headset_events()`` is the same stream without the lamps.  ``list_headsets()`` lists
attached headsets (blocking).  Without hidapi, iterating ``events()`` raises
:class:`HeadsetSupportMissing` with the extra to install.

Descriptors and reports, pure and blocking-free: :func:`parse_descriptor`,
:func:`headset_controls`, :class:`HeadsetDecoder`, :func:`output_reports`.

Busylights: :func:`light_colour` (agent state -> :class:`Colour`) and :class:`Busylights`
(blocking: run ``show`` in a thread).  User guide: docs/headsets.md.
"""

from .busylight import Busylights, BusylightSupportMissing, Colour, light_colour
from .headset_reports import (
    HeadsetDecoder,
    HeadsetEvent,
    HeadsetLights,
    led_levels,
    output_reports,
)
from .hid_descriptor import (
    DescriptorError,
    HidControl,
    ReportDescriptor,
    headset_controls,
    parse_descriptor,
    read_descriptor_file,
)
from .hidapi_backend import (
    HeadsetConnection,
    HeadsetInfo,
    HeadsetSupportMissing,
    HidChannel,
    HidTransport,
    headset_events,
    list_headsets,
)

__all__ = [
    "BusylightSupportMissing",
    "Busylights",
    "Colour",
    "DescriptorError",
    "HeadsetConnection",
    "HeadsetDecoder",
    "HeadsetEvent",
    "HeadsetInfo",
    "HeadsetLights",
    "HeadsetSupportMissing",
    "HidChannel",
    "HidControl",
    "HidTransport",
    "ReportDescriptor",
    "headset_controls",
    "headset_events",
    "led_levels",
    "light_colour",
    "list_headsets",
    "output_reports",
    "parse_descriptor",
    "read_descriptor_file",
]
