"""The report-descriptor parser, one hand-built descriptor per HID rule (HID 1.11, 6.2.2).

Each descriptor is assembled item by item with :func:`item`, so every byte is visible in
the test that uses it.  The real devices' descriptors are in test_hid_shared_descriptors.py.
"""

from __future__ import annotations

import pytest
from hid_items import (
    BUTTON,
    CONST_VAR,
    DATA_ARRAY,
    DATA_VAR_ABS,
    DATA_VAR_REL,
    FEATURE,
    INPUT,
    LED,
    LMAX,
    LMIN,
    OUTPUT,
    POP,
    PUSH,
    RCOUNT,
    RID,
    RSIZE,
    TEL,
    UMAX,
    UMIN,
    USAGE,
    USAGE_PAGE,
    VENDOR,
    app,
    item,
    one_bit_fields,
)  # fmt: skip
from medlytt.hardware import (
    DescriptorError,
    HeadsetDecoder,
    headset_controls,
    parse_descriptor,
    read_descriptor_file,
)
from medlytt.hardware.hid_descriptor import descriptor_from_text


def where(data: bytes) -> list[tuple[str, int, int, int, int, str]]:
    return [(c.type, c.report_id, c.bit, c.page, c.usage, c.name) for c in headset_controls(data)]


def test_a_usage_takes_the_page_in_effect_when_it_is_read():
    data = app(
        item(USAGE, 0x20),  # Telephony: Hook Switch
        item(USAGE_PAGE, LED),
        item(USAGE, 0x17),  # LED: Off-Hook
        one_bit_fields(2),
        item(INPUT, DATA_VAR_ABS),
    )
    assert where(data) == [
        ("input", 0, 0, TEL, 0x20, "hook_switch"),
        ("input", 0, 1, LED, 0x17, "led_off_hook"),
    ]


def test_usages_before_a_last_page_change_take_that_page():
    """Usage (7), Usage Page (Button), Input: the spec's "last declared Usage Page" at the
    main item (Jabra and Yealink descriptors do this): Button 7, not a Telephony control."""
    data = app(
        item(USAGE, 0x20),
        one_bit_fields(1),
        item(INPUT, DATA_VAR_ABS),
        item(USAGE, 0x07),
        item(USAGE_PAGE, BUTTON),
        item(INPUT, DATA_VAR_ABS),
    )
    assert where(data) == [("input", 0, 0, TEL, 0x20, "hook_switch")]
    assert [(c.page, c.usage, c.bit) for c in parse_descriptor(data).controls][-1] == (9, 7, 1)


def test_an_extended_usage_carries_its_own_page():
    data = app(
        item(USAGE_PAGE, VENDOR),
        item(USAGE, (TEL << 16) | 0x2F, size=4),  # extended: Telephony Phone Mute
        item(USAGE, 0x2F),  # the vendor page's 0x2F
        one_bit_fields(2),
        item(INPUT, DATA_VAR_REL),
        item(USAGE, (LED << 16) | 0x09, size=4),  # extended LED Mute before a page change...
        item(USAGE_PAGE, BUTTON),  # ...is not re-bound by it
        item(RCOUNT, 1),
        item(OUTPUT, DATA_VAR_ABS),
    )
    assert where(data) == [
        ("input", 0, 0, TEL, 0x2F, "phone_mute"),
        ("output", 0, 0, LED, 0x09, "led_mute"),
    ]


def test_vendor_page_copies_of_telephony_usage_ids_are_not_telephony():
    data = app(
        item(USAGE_PAGE, VENDOR),
        item(USAGE, 0x20),
        item(USAGE, 0x2F),
        one_bit_fields(2),
        item(INPUT, DATA_VAR_ABS),
    )
    parsed = parse_descriptor(data)
    assert [(c.page, c.usage) for c in parsed.controls] == [(VENDOR, 0x20), (VENDOR, 0x2F)]
    assert headset_controls(data) == []


def test_push_and_pop_restore_every_global():
    data = app(
        one_bit_fields(1),
        item(PUSH),
        item(USAGE_PAGE, VENDOR),
        item(RSIZE, 8),
        item(RCOUNT, 3),
        item(USAGE, 0x01),
        item(INPUT, DATA_VAR_ABS),
        item(POP),
        item(USAGE, 0x2F),  # Telephony again, 1 bit, 1 field
        item(INPUT, DATA_VAR_REL),
    )
    (mute,) = headset_controls(data)
    assert (mute.name, mute.bit, mute.size, mute.relative) == ("phone_mute", 24, 1, True)
    assert parse_descriptor(data).report_bits[("input", 0)] == 25


def test_pop_without_push_is_an_error_naming_the_byte():
    with pytest.raises(DescriptorError, match=r"Pop at byte \d+ without a Push"):
        parse_descriptor(app(item(POP)))


def test_local_items_are_cleared_after_each_main_item():
    data = app(
        item(USAGE, 0x20),
        one_bit_fields(1),
        item(INPUT, DATA_VAR_ABS),
        item(INPUT, CONST_VAR),  # no usage of its own: padding, not a second hook switch
        item(USAGE, 0x2F),
        item(INPUT, DATA_VAR_REL),
    )
    assert [(c.name, c.bit) for c in headset_controls(data)] == [
        ("hook_switch", 0),
        ("phone_mute", 2),
    ]


def test_usage_minimum_and_maximum_name_variable_fields_in_turn():
    data = app(item(UMIN, 0x20), item(UMAX, 0x21), one_bit_fields(2), item(INPUT, DATA_VAR_ABS))
    assert [(c.name, c.bit) for c in headset_controls(data)] == [("hook_switch", 0), ("flash", 1)]


def test_the_last_usage_repeats_for_fields_left_over():
    data = app(item(USAGE, 0x21), item(USAGE, 0x24), one_bit_fields(3), item(INPUT, DATA_VAR_ABS))
    assert [(c.name, c.bit) for c in headset_controls(data)] == [
        ("flash", 0),
        ("redial", 1),
        ("redial", 2),
    ]


def test_an_array_maps_its_usages_to_the_values_its_slots_hold():
    data = app(
        item(UMIN, 0xB0),  # Phone Key 0 ...
        item(UMAX, 0xB9),  # ... Phone Key 9
        item(LMIN, 1),
        item(LMAX, 10),
        item(RSIZE, 4),
        item(RCOUNT, 2),
        item(INPUT, DATA_ARRAY),
    )
    keys = headset_controls(data)
    assert len(keys) == 10
    assert all(c.array and c.bit == 0 and c.size == 4 and c.count == 2 for c in keys)
    assert [(c.name, c.array_value) for c in keys][:2] == [("phone_key_0", 1), ("phone_key_1", 2)]
    decoder = HeadsetDecoder(parse_descriptor(data))
    # slot 0 holds 4 (Phone Key 3), slot 1 is empty (0, below Logical Minimum)
    assert [(e.kind, e.button) for e in decoder.feed(bytes([0x04]), now=0.0)] == [
        ("button", "phone_key_3")
    ]
    assert decoder.feed(bytes([0x04]), now=5.0) == []  # still held: no new press


def test_constant_fields_with_usages_are_reported_and_read():
    data = app(item(USAGE, 0x20), item(USAGE, 0x2F), one_bit_fields(2), item(INPUT, CONST_VAR))
    controls = headset_controls(data)
    assert [(c.name, c.constant) for c in controls] == [("hook_switch", True), ("phone_mute", True)]
    assert [e.kind for e in HeadsetDecoder(parse_descriptor(data)).feed(b"\x01", 0.0)] == [
        "off_hook"
    ]


def test_without_report_ids_the_report_id_is_0_and_reports_have_no_id_byte():
    data = app(item(USAGE, 0x20), one_bit_fields(1), item(INPUT, DATA_VAR_ABS))
    parsed = parse_descriptor(data)
    assert not parsed.uses_report_ids
    assert [c.report_id for c in parsed.controls] == [0]
    assert parsed.report_length("input", 0) == 1


def test_bits_count_per_report_id_and_per_report_type():
    data = app(
        item(RID, 2),
        item(USAGE, 0x21),
        one_bit_fields(1),
        item(INPUT, DATA_VAR_ABS),
        item(USAGE, 0x20),
        item(INPUT, DATA_VAR_ABS),
        item(USAGE_PAGE, LED),
        item(USAGE, 0x18),
        item(OUTPUT, DATA_VAR_ABS),  # output report 2 starts at bit 0 again
        item(RID, 3),
        item(USAGE, 0x09),
        item(OUTPUT, DATA_VAR_ABS),  # so does output report 3
        item(USAGE, 0x21),
        item(FEATURE, DATA_VAR_ABS),
    )
    assert [(t, rid, bit, name) for t, rid, bit, _, _, name in where(data)] == [
        ("input", 2, 0, "flash"),
        ("input", 2, 1, "hook_switch"),
        ("output", 2, 0, "led_ring"),
        ("output", 3, 0, "led_mute"),
        ("feature", 3, 0, "led_microphone"),
    ]
    assert parse_descriptor(data).report_length("input", 2) == 2  # id byte + 1


def test_logical_maximum_is_unsigned_unless_the_minimum_is_negative():
    data = app(
        item(USAGE, 0x20),
        item(LMIN, 0),
        item(LMAX, 0xFF),
        item(RSIZE, 8),
        item(RCOUNT, 1),
        item(INPUT, DATA_VAR_ABS),
        item(USAGE, 0x21),
        item(LMIN, 0xFF),
        item(LMAX, 0x7F),
        item(INPUT, DATA_VAR_ABS),
    )
    hook, flash = headset_controls(data)
    assert (hook.logical_min, hook.logical_max) == (0, 255)
    assert (flash.logical_min, flash.logical_max) == (-1, 127)


def test_unknown_usages_get_a_hex_name():
    data = app(
        item(USAGE, 0x0197),
        item(USAGE_PAGE, LED),
        item(USAGE, 0x60),
        one_bit_fields(2),
        item(INPUT, DATA_VAR_ABS),
    )
    assert [c.name for c in headset_controls(data)] == ["telephony_0x0197", "led_0x0060"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (bytes([0x05]), r"item 0x05 at byte 0 needs 1 data bytes but only 0 remain \(truncated"),
        (bytes([0x05, 0x0B, 0x0A, 0x20]), r"item 0x0a at byte 2 needs 2 data bytes but only 1"),
        (bytes([0xC0]), "End Collection at byte 0 closes no collection"),
        (bytes([0x05, 0x0B, 0xA1, 0x01]), "1 collection.s. not closed"),
        (bytes([0xFE, 0x05, 0x00, 0x01]), "long item at byte 0 announces 5 data bytes"),
        (bytes([0x85, 0x00]), "Report ID 0 at byte 0 is reserved"),
    ],
)
def test_bad_descriptors_are_errors_naming_the_problem(data, message):
    with pytest.raises(DescriptorError, match=message):
        parse_descriptor(data)


def test_hex_text_in_the_usual_spellings():
    expected = bytes([0x05, 0x0B, 0x09, 0x05])
    for text in ("05 0b 09 05\n", "0x05, 0x0B, 0x09, 0x05", "050b0905", "05 0b # page\n09 05"):
        assert descriptor_from_text(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [("05 0b 9", "token 3 '9' has an odd number of hex digits"), ("05 zz", "token 2 'zz' is not")],
)
def test_bad_hex_text_names_the_token(text, message):
    with pytest.raises(DescriptorError, match=message):
        descriptor_from_text(text)


def test_files_are_read_as_binary_or_as_hex_text(tmp_path):
    data = app(item(USAGE, 0x20), one_bit_fields(1), item(INPUT, DATA_VAR_ABS))
    binary, text, empty = tmp_path / "d.bin", tmp_path / "d.hex", tmp_path / "e.hex"
    binary.write_bytes(data)
    text.write_text(" ".join(f"{b:02x}" for b in data) + "\n")
    empty.write_bytes(b"")
    assert read_descriptor_file(binary) == read_descriptor_file(text) == data
    with pytest.raises(DescriptorError, match="is empty"):
        read_descriptor_file(empty)
    with pytest.raises(DescriptorError, match="cannot read"):
        read_descriptor_file(tmp_path / "missing.bin")
