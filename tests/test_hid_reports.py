"""Input reports into headset events and lamps into output reports (issue 13).

No recorded input reports exist in ../shared/hid, so the reports here are constructed: bits
set at the positions the descriptors declare (hand-checked in
test_hid_shared_descriptors.py), including what real devices do wrong (repeats, one press
in two reports, the spurious on-hook after Off-Hook is lit).
"""

from __future__ import annotations

import pytest
from hid_items import (
    DATA_VAR_ABS,
    DATA_VAR_REL,
    INPUT,
    LED,
    OUTPUT,
    RCOUNT,
    RID,
    SHARED,
    USAGE,
    USAGE_PAGE,
    app,
    item,
    needs_shared,
    one_bit_fields,
)
from medlytt.hardware import (
    HeadsetDecoder,
    HeadsetLights,
    output_reports,
    parse_descriptor,
    read_descriptor_file,
)

#: Report 2: Hook Switch (absolute) bit 0, Phone Mute (relative) bit 1, Flash (relative) bit 2.
HEADSET = app(
    item(RID, 2),
    item(USAGE, 0x20),
    one_bit_fields(1),
    item(INPUT, DATA_VAR_ABS),
    item(USAGE, 0x2F),
    item(USAGE, 0x21),
    item(RCOUNT, 2),
    item(INPUT, DATA_VAR_REL),
    item(RCOUNT, 5),
    item(INPUT, 0x03),
)
HOOK, MUTE, FLASH = 0b001, 0b010, 0b100


def kinds(events):
    return [(e.kind, e.muted) if e.kind == "mute_toggled" else e.kind for e in events]


def feed_all(decoder, reports):
    """Feed (time, report) pairs; all events in order."""
    return [event for now, report in reports for event in decoder.feed(report, now)]


def test_hook_switch_level_gives_off_hook_and_on_hook_once_each():
    decoder = HeadsetDecoder(parse_descriptor(HEADSET))
    events = feed_all(
        decoder,
        [
            (0.0, bytes([2, HOOK])),
            (2.0, bytes([2, HOOK])),  # the same report again (Jabra repeats it ~2 s later)
            (5.0, bytes([2, 0])),
            (7.0, bytes([2, 0])),
        ],
    )
    assert kinds(events) == ["off_hook", "on_hook"]
    assert decoder.off_hook is False


def test_a_relative_mute_toggles_on_each_press_not_on_release():
    decoder = HeadsetDecoder(parse_descriptor(HEADSET))
    events = feed_all(
        decoder,
        [
            (0.0, bytes([2, HOOK])),
            (1.0, bytes([2, HOOK | MUTE])),  # press
            (1.1, bytes([2, HOOK])),  # release: the device's own "0 after 1"
            (3.0, bytes([2, HOOK | MUTE])),
            (3.1, bytes([2, HOOK])),
        ],
    )
    assert kinds(events) == ["off_hook", ("mute_toggled", True), ("mute_toggled", False)]


def test_one_press_reported_in_two_reports_counts_once():
    """Plantronics mute "fires multiple events with different report IDs" (WICG/webhid#61)."""
    data = app(
        item(RID, 3),
        item(USAGE, 0x2F),
        one_bit_fields(1),
        item(INPUT, DATA_VAR_REL),
        item(RID, 4),
        item(USAGE, 0x2F),
        item(INPUT, DATA_VAR_REL),
    )
    decoder = HeadsetDecoder(parse_descriptor(data), repeat_window=0.5)
    events = feed_all(
        decoder,
        [(1.00, b"\x03\x01"), (1.05, b"\x04\x01"), (1.10, b"\x03\x00"), (1.15, b"\x04\x00")],
    )
    assert kinds(events) == [("mute_toggled", True)]
    later = feed_all(decoder, [(3.0, b"\x04\x01"), (3.01, b"\x03\x01")])
    assert kinds(later) == [("mute_toggled", False)]


def test_an_absolute_mute_is_a_level():
    data = app(item(RID, 1), item(USAGE, 0x2F), one_bit_fields(1), item(INPUT, DATA_VAR_ABS))
    decoder = HeadsetDecoder(parse_descriptor(data))
    events = feed_all(decoder, [(0, b"\x01\x01"), (1, b"\x01\x01"), (2, b"\x01\x00")])
    assert kinds(events) == [("mute_toggled", True), ("mute_toggled", False)]


def test_a_mute_toggle_starts_from_the_state_the_host_set():
    decoder = HeadsetDecoder(parse_descriptor(HEADSET))
    decoder.host_set_mute(True)  # the softphone muted
    assert kinds(decoder.feed(bytes([2, MUTE]), 0.0)) == [("mute_toggled", False)]


def test_a_relative_hook_switch_is_a_toggle():
    data = app(item(USAGE, 0x20), one_bit_fields(1), item(INPUT, DATA_VAR_REL))
    decoder = HeadsetDecoder(parse_descriptor(data))
    events = feed_all(decoder, [(0, b"\x01"), (0.1, b"\x00"), (5, b"\x01"), (5.1, b"\x00")])
    assert kinds(events) == ["off_hook", "on_hook"]


def test_an_on_hook_right_after_the_host_lit_off_hook_is_ignored():
    """gonicus/gonnect#138: some headsets send hook-on just after the host answers."""
    decoder = HeadsetDecoder(parse_descriptor(HEADSET), hook_guard=1.0)
    decoder.host_lit_off_hook(now=10.0)
    assert kinds(decoder.feed(bytes([2, HOOK]), 10.1)) == ["off_hook"]
    assert decoder.feed(bytes([2, 0]), 10.3) == []  # spurious
    assert decoder.feed(bytes([2, HOOK]), 10.5) == []
    assert kinds(decoder.feed(bytes([2, 0]), 30.0)) == ["on_hook"]  # a real one, later


def test_other_telephony_keys_are_buttons():
    decoder = HeadsetDecoder(parse_descriptor(HEADSET), device="test headset")
    (event,) = decoder.feed(bytes([2, FLASH]), 0.0)
    assert (event.kind, event.button, event.device) == ("button", "flash", "test headset")


def test_reports_of_other_ids_and_short_reports_are_ignored():
    decoder = HeadsetDecoder(parse_descriptor(HEADSET))
    assert decoder.feed(bytes([5, 0xFF, 0xFF]), 0.0) == []
    assert decoder.feed(b"", 0.0) == []


@needs_shared
@pytest.mark.parametrize(
    ("stem", "hook", "mute"),
    [
        ("jabra_evolve_link_ms_0b0e_0307", (2, 0), (2, 2)),
        ("plantronics_blackwire3220_047f_c056", (8, 1), (8, 0)),
        ("poly_bt700_047f_02e6", (32, 0), (32, 1)),
        ("sennheiser_sc660_anc_usb_1395_0082", (8, 1), (8, 0)),
        ("jabra_link380c_0b0e_24c9", (2, 0), (2, 3)),
    ],
)
def test_a_call_on_real_descriptors(stem, hook, mute):
    """Answer, mute, unmute, hang up, built from each device's own report layout."""
    descriptor = parse_descriptor(read_descriptor_file(SHARED / f"{stem}.hex"))
    length = descriptor.report_length("input", hook[0])

    def report(hook_on: bool, mute_on: bool) -> bytes:
        data = bytearray(length)
        data[0] = hook[0]
        if hook_on:
            data[1 + hook[1] // 8] |= 1 << (hook[1] % 8)
        if mute_on:
            data[1 + mute[1] // 8] |= 1 << (mute[1] % 8)
        return bytes(data)

    decoder = HeadsetDecoder(descriptor)
    sequence = [(0, 0), (1, 0), (1, 0), (1, 1), (1, 0), (1, 1), (1, 0), (0, 0)]
    events = feed_all(decoder, [(t * 2.0, report(*s)) for t, s in enumerate(sequence)])
    assert kinds(events) == [
        "off_hook",
        ("mute_toggled", True),
        ("mute_toggled", False),
        "on_hook",
    ]


# ------------------------------------------------------------------------ output reports

#: Output report 2: LED Off-Hook, Mute, Ring, Hold, Microphone (bits 0-4), 3 bits padding.
LAMPS = app(
    item(RID, 2),
    item(USAGE_PAGE, LED),
    item(USAGE, 0x17),
    item(USAGE, 0x09),
    item(USAGE, 0x18),
    item(USAGE, 0x20),
    item(USAGE, 0x21),
    one_bit_fields(5),
    item(OUTPUT, DATA_VAR_ABS),
    item(RCOUNT, 3),
    item(OUTPUT, 0x03),
)
OFF_HOOK, LED_MUTE, RING, HOLD, MIC = 1, 2, 4, 8, 16


@pytest.mark.parametrize(
    ("lights", "bits"),
    [
        (HeadsetLights(), 0),
        (HeadsetLights(ringing=True), RING),
        (HeadsetLights(in_call=True), OFF_HOOK),
        (HeadsetLights(in_call=True, muted=True), OFF_HOOK | LED_MUTE | MIC),
        # on hold Off-Hook stays lit: clearing it makes Jabra report on-hook (gonnect#52)
        (HeadsetLights(in_call=True, on_hold=True), OFF_HOOK | HOLD),
        (HeadsetLights(on_hold=True), OFF_HOOK | HOLD),
    ],
)
def test_lamps_become_one_output_report(lights, bits):
    assert output_reports(parse_descriptor(LAMPS), lights) == [bytes([2, bits])]


def test_lamps_without_report_ids_have_no_id_byte():
    data = app(item(USAGE_PAGE, LED), item(USAGE, 0x18), one_bit_fields(1), item(OUTPUT, 0x02))
    assert output_reports(parse_descriptor(data), HeadsetLights(ringing=True)) == [b"\x01"]


@needs_shared
def test_lamps_spread_over_several_reports_on_a_plantronics():
    descriptor = parse_descriptor(
        read_descriptor_file(SHARED / "plantronics_blackwire3220_047f_c056.hex")
    )
    reports = output_reports(descriptor, HeadsetLights(in_call=True, muted=True))
    # one 2-byte report per lamp: Mute (9), Off-Hook (23), Ring (24), Hold (32)
    assert sorted(reports) == [b"\x09\x01", b"\x17\x01", b"\x18\x00", b"\x20\x00"]


@needs_shared
def test_jabra_rings_with_the_ring_led_and_the_telephony_ringer():
    descriptor = parse_descriptor(
        read_descriptor_file(SHARED / "jabra_evolve_link_ms_0b0e_0307.hex")
    )
    (report,) = output_reports(descriptor, HeadsetLights(ringing=True))
    # id 2; LED Ring is bit 2, the Telephony Ringer output bit 5; 16 bits in all
    assert report == bytes([2, 0b100100, 0])
