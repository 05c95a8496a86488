"""Headset reports: input reports into :class:`HeadsetEvent`, lamps into output reports.

Both directions work from the controls the descriptor declares (:mod:`.hid_descriptor`),
never from report ids or bits known in advance: Yealink moved its telephony report from id 4
to 2 between models, Poly spreads its LEDs over five reports, and Jabra flags its buttons
Constant.

What real devices need, and where it is handled:

* **Hook switch** is a level on most devices (Jabra, Poly, EPOS: ``relative=False``): the
  state changes when the level does, so a report a device repeats for one press (Jabra sends
  report 2 twice, about 2 s apart) changes nothing.  A hook switch flagged Relative is a
  toggle: each 0 -> 1 edge flips the state.
* **Phone mute** is a toggle on every headset whose descriptor we have seen
  (``relative=True``): a 0 -> 1 edge is one press.  One press can arrive as several
  edges: Plantronics reports it in more than one report id.  Edges of the same usage
  within ``repeat_window`` seconds count once.  An absolute mute is a level, like the
  hook switch.
* **Mute acknowledgement**: after a press the device waits for the host to light its mute
  LED and resets its own mute state otherwise (WICG/webhid#72), so the caller writes
  :func:`output_reports` with the new ``muted`` at once (the backend does,
  :mod:`.hidapi_backend`).
* **Hold keeps Off-Hook lit**: clearing the Off-Hook LED makes some Jabra devices report
  on-hook and end the call (gonicus/gonnect#52), so :func:`led_levels` lights Off-Hook while
  a call is on hold and adds the Hold LED.
* **Spurious on-hook** right after the host lights Off-Hook (gonicus/gonnect#138): an on-hook
  within ``hook_guard`` seconds of :meth:`HeadsetDecoder.host_lit_off_hook` is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from medlytt import utcnow

from .hid_descriptor import HidControl, ReportDescriptor
from .hid_usages import LED_PAGE, TELEPHONY_PAGE

EventKind = Literal[
    "off_hook", "on_hook", "mute_toggled", "button", "connected", "disconnected", "absent"
]


@dataclass(frozen=True)
class HeadsetEvent:
    """Something the headset (or its connection) did.

    * ``off_hook`` / ``on_hook``: the agent answered / ended with the headset's button;
    * ``mute_toggled``: the agent pressed mute; ``muted`` is the new state;
    * ``button``: another telephony key (``button`` names it: ``flash``, ``redial``,
      ``phone_key_5``...);
    * ``connected`` / ``disconnected``: the headset was opened / went away (unplugged);
      ``absent``: no headset with telephony controls is attached; ``detail`` says more.
    """

    kind: EventKind
    device: str = ""
    muted: bool | None = None
    button: str | None = None
    detail: str = ""
    at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class HeadsetLights:
    """What the headset's lamps should show, from Medlytt's view of the agent's call."""

    ringing: bool = False
    in_call: bool = False
    on_hold: bool = False
    muted: bool = False


def led_levels(lights: HeadsetLights) -> dict[tuple[int, int], bool]:
    """(page, usage) -> on, for every lamp Medlytt drives.

    Off-Hook stays lit on hold (clearing it hangs some Jabra devices up); the mute LED *and*
    the Microphone LED follow ``muted``, because devices acknowledge mute on either
    (Jabra, Dell: Mute 0x09; EPOS, Sennheiser: both); the Telephony Ringer output makes
    the headset itself ring where it has one.
    """
    off_hook = lights.in_call or lights.on_hold
    return {
        (LED_PAGE, 0x17): off_hook,  # Off-Hook
        (LED_PAGE, 0x18): lights.ringing,  # Ring
        (LED_PAGE, 0x09): lights.muted,  # Mute
        (LED_PAGE, 0x21): lights.muted,  # Microphone
        (LED_PAGE, 0x20): lights.on_hold,  # Hold
        (TELEPHONY_PAGE, 0x9E): lights.ringing,  # Ringer
    }


def output_reports(descriptor: ReportDescriptor, lights: HeadsetLights) -> list[bytes]:
    """The output reports that set the lamps to ``lights``, one per report id involved.

    Each report is as long as the descriptor declares it (Report ID byte first when the
    device uses ids); fields Medlytt does not drive are written as 0.
    """
    levels = led_levels(lights)
    by_report: dict[int, list[HidControl]] = {}
    for control in descriptor.controls:
        if control.type == "output" and (control.page, control.usage) in levels:
            by_report.setdefault(control.report_id, []).append(control)
    reports = []
    for report_id, controls in by_report.items():
        length = descriptor.report_length("output", report_id)
        prefix = 1 if descriptor.uses_report_ids else 0
        data = bytearray(length)
        if prefix:
            data[0] = report_id
        slots: dict[int, int] = {}  # next free slot of each array field, by its bit
        for control in controls:
            if not levels[(control.page, control.usage)]:
                continue
            if control.array:
                slot = slots.get(control.bit, 0)
                if slot < control.count and control.array_value is not None:
                    _put(
                        data,
                        prefix * 8 + control.bit + slot * control.size,
                        control.size,
                        control.array_value,
                    )
                    slots[control.bit] = slot + 1
            else:
                _put(data, prefix * 8 + control.bit, control.size, 1)
        reports.append(bytes(data))
    return reports


def _put(data: bytearray, bit: int, size: int, value: int) -> None:
    for i in range(size):
        byte, shift = divmod(bit + i, 8)
        if byte >= len(data):
            return
        if (value >> i) & 1:
            data[byte] |= 1 << shift
        else:
            data[byte] &= ~(1 << shift) & 0xFF


def read_field(data: bytes, bit: int, size: int, signed: bool = False) -> int:
    """The ``size``-bit value at ``bit`` of ``data`` (HID packs fields LSB first)."""
    value = 0
    for i in range(size):
        byte, shift = divmod(bit + i, 8)
        if byte < len(data) and data[byte] >> shift & 1:
            value |= 1 << i
    if signed and size and value >> (size - 1):
        value -= 1 << size
    return value


class HeadsetDecoder:
    """Turns a headset's input reports into :class:`HeadsetEvent` objects, keeping state.

    ``feed(report, now)`` takes one report as hidraw delivers it (Report ID byte first when
    the device uses ids) and ``now``, a monotonic time in seconds, which only the repeat
    window and the hook guard use.  State starts on-hook and unmuted, the state a device is
    in when nobody has pressed anything.
    """

    def __init__(
        self,
        descriptor: ReportDescriptor,
        *,
        device: str = "",
        repeat_window: float = 0.5,
        hook_guard: float = 1.0,
    ) -> None:
        self.device = device
        self.repeat_window = repeat_window
        self.hook_guard = hook_guard
        self.uses_report_ids = descriptor.uses_report_ids
        self._controls: dict[int, list[HidControl]] = {}
        for control in descriptor.controls:
            if control.type == "input" and control.page == TELEPHONY_PAGE:
                self._controls.setdefault(control.report_id, []).append(control)
        self.off_hook = False
        self.muted = False
        self._levels: dict[tuple[int, int, int], int] = {}
        self._last_edge: dict[str, float] = {}
        self._guard_until = float("-inf")

    @property
    def has_telephony(self) -> bool:
        """Whether the device reports any Telephony-page input at all."""
        return bool(self._controls)

    def host_lit_off_hook(self, now: float) -> None:
        """The host just lit Off-Hook (answered): ignore an on-hook for ``hook_guard`` s."""
        self._guard_until = now + self.hook_guard

    def host_set_mute(self, muted: bool) -> None:
        """The host (the softphone, the desk) muted or unmuted: a toggle starts from there."""
        self.muted = muted

    def feed(self, report: bytes, now: float) -> list[HeadsetEvent]:
        """The events one input report means (often none: a repeat, a release)."""
        if self.uses_report_ids:
            if not report:
                return []
            report_id, payload = report[0], report[1:]
        else:
            report_id, payload = 0, report
        events: list[HeadsetEvent] = []
        for control in self._controls.get(report_id, ()):
            if control.array:
                self._array(control, payload, now, events)
            else:
                self._variable(control, payload, now, events)
        return events

    def _variable(
        self, control: HidControl, payload: bytes, now: float, events: list[HeadsetEvent]
    ) -> None:
        value = read_field(payload, control.bit, control.size, control.logical_min < 0)
        key = (control.report_id, control.bit, control.usage)
        previous = self._levels.get(key, 0)
        self._levels[key] = value
        on, was_on = value > 0, previous > 0
        rising = on and not was_on
        if control.name == "hook_switch":
            if control.relative:
                if rising and self._edge("hook_switch", now):
                    self._set_hook(not self.off_hook, now, events)
            elif on != was_on:
                self._set_hook(on, now, events)
        elif control.name == "phone_mute":
            if control.relative:
                if rising and self._edge("phone_mute", now):
                    self.muted = not self.muted
                    events.append(self._event("mute_toggled", muted=self.muted))
            elif on != was_on and on != self.muted:
                self.muted = on
                events.append(self._event("mute_toggled", muted=self.muted))
        elif rising and self._edge(control.name, now):
            events.append(self._event("button", button=control.name))

    def _array(
        self, control: HidControl, payload: bytes, now: float, events: list[HeadsetEvent]
    ) -> None:
        values = {
            read_field(payload, control.bit + slot * control.size, control.size)
            for slot in range(control.count)
        }
        key = (control.report_id, control.bit, control.usage)
        on = int(control.array_value in values)
        previous = self._levels.get(key, 0)
        self._levels[key] = on
        if on and not previous and control.array_value != 0 and self._edge(control.name, now):
            events.append(self._event("button", button=control.name))

    def _edge(self, name: str, now: float) -> bool:
        """Whether a press of ``name`` now is a new one (not a repeat within the window)."""
        last = self._last_edge.get(name)
        if last is not None and now - last < self.repeat_window:
            return False
        self._last_edge[name] = now
        return True

    def _set_hook(self, off_hook: bool, now: float, events: list[HeadsetEvent]) -> None:
        if off_hook == self.off_hook:
            return
        if not off_hook and now < self._guard_until:
            return  # the spurious hook-on some devices send right after Off-Hook is lit
        self.off_hook = off_hook
        events.append(self._event("off_hook" if off_hook else "on_hook"))

    def _event(
        self, kind: EventKind, *, muted: bool | None = None, button: str | None = None
    ) -> HeadsetEvent:
        return HeadsetEvent(kind, device=self.device, muted=muted, button=button)
