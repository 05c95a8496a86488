"""The parser on eighteen real headsets' report descriptors (``../shared/hid``, issue 13).

The files are read where they lie at test time (never copied into the repository); the
tests skip, saying so, in a clone without that folder beside it.

EXPECTED was written by reading each descriptor's items by hand (an item listing of the
bytes: Report ID, Usage Page, Usage, Report Size/Count, Input/Output, in order) and
counting the bits, not by running the parser: (report id, bit) for the hook switch, the
phone mute, and the Off-Hook, Ring and Mute LEDs.  ``None``: the device has no such
control (the Razer microphone has only a hook switch; the MX Brio lights only Mute).
"""

from __future__ import annotations

import pytest
from hid_items import SHARED, needs_shared
from medlytt.hardware import HeadsetDecoder, parse_descriptor, read_descriptor_file

pytestmark = needs_shared

Where = tuple[int, int] | None
#: file stem -> (hook_switch, phone_mute, led_off_hook, led_ring, led_mute), each (report id, bit)
EXPECTED: dict[str, tuple[Where, Where, Where, Where, Where]] = {
    "jabra_link380c_0b0e_24c9": ((2, 0), (2, 3), (2, 0), (2, 3), (2, 2)),
    "jabra_evolve_link_ms_0b0e_0307": ((2, 0), (2, 2), (2, 0), (2, 2), (2, 1)),
    "jabra_biz2400ii_0b0e_2453": ((2, 0), (2, 2), (2, 0), (2, 2), (2, 1)),
    "jabra_speak810_0b0e_2456": ((2, 0), (2, 2), (2, 0), (2, 2), (2, 1)),
    "plantronics_blackwire3220_047f_c056": ((8, 1), (8, 0), (23, 0), (24, 0), (9, 0)),
    "plantronics_blackwire_c5220_047f_c053": ((8, 1), (8, 0), (23, 0), (24, 0), (9, 0)),
    "poly_bt700_047f_02e6": ((32, 0), (32, 1), (36, 0), (33, 0), (35, 0)),
    "poly_voyager_base_cd_047f_02ec": ((1, 0), (1, 1), (4, 0), (1, 0), (3, 0)),
    "sennheiser_sc660_anc_usb_1395_0082": ((8, 1), (8, 0), (9, 1), (9, 2), (9, 0)),
    "epos_impact_d1_1395_009c": ((2, 0), (2, 3), (3, 0), (3, 2), (3, 3)),
    "epos_impact_dw_1395_00a2": ((2, 2), (2, 5), (3, 1), (3, 3), (3, 4)),
    "epos_impact_d_1395_00a9": ((2, 2), (2, 5), (3, 1), (3, 3), (3, 4)),
    "yealink_wh66_6993_b02b": ((2, 0), (2, 2), (2, 0), (2, 2), (2, 1)),
    "dell_sp325_speakerphone_413c_8223": ((5, 0), (5, 1), (5, 0), (5, 2), (5, 1)),
    "logitech_mx_brio_046d_0944": ((8, 1), (8, 0), None, None, (8, 0)),
    "razer_rz19-0229_mic_1532_0511": ((2, 0), None, None, None, None),
}
NO_TELEPHONY = ("logitech_g535_046d_0ac4", "logitech_h540_046d_0a37")
NAMES = (
    ("input", "hook_switch"),
    ("input", "phone_mute"),
    ("output", "led_off_hook"),
    ("output", "led_ring"),
    ("output", "led_mute"),
)


def load(stem: str):
    return parse_descriptor(read_descriptor_file(SHARED / f"{stem}.hex"))


def test_every_file_in_the_folder_is_covered():
    """A descriptor added to the folder without an expectation fails here."""
    stems = {p.stem for p in SHARED.glob("*.hex")}
    assert stems == set(EXPECTED) | set(NO_TELEPHONY)
    assert len(EXPECTED) == 16


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_hook_mute_and_leds_at_their_report_and_bit(stem):
    controls = load(stem).headset_controls()
    for (report_type, name), expected in zip(NAMES, EXPECTED[stem], strict=True):
        found = [(c.report_id, c.bit) for c in controls if (c.type, c.name) == (report_type, name)]
        if expected is None:
            assert found == [], f"{stem}: {name} unexpected at {found}"
        else:
            assert found == [expected], f"{stem}: {name} at {found}, expected {expected}"


@pytest.mark.parametrize("stem", NO_TELEPHONY)
def test_the_logitech_headsets_without_a_telephony_page_give_nothing(stem):
    assert load(stem).headset_controls() == []


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_no_vendor_page_copy_is_reported(stem):
    """Jabra, Yealink, EPOS and Sennheiser repeat hook, mute and LEDs on vendor pages (0xFF30,
    0xFF40, 0xFF13, 0xFF95...) with the same usage ids: those stay vendor controls."""
    descriptor = load(stem)
    reported = descriptor.headset_controls()
    assert all(c.page in (0x08, 0x0B) for c in reported)
    copies = [
        c
        for c in descriptor.controls
        if c.page >= 0xFF00 and c.usage in (0x20, 0x2F, 0x17, 0x18, 0x09)
    ]
    for copy in copies:
        assert not any(
            (c.type, c.report_id, c.bit) == (copy.type, copy.report_id, copy.bit) for c in reported
        ), f"{stem}: vendor control {copy} reported as telephony"


def test_the_vendor_copies_exist_so_the_previous_test_can_fail():
    """The Jabra Link 380c has a full vendor-page copy of its telephony report (id 4)."""
    vendor = [c for c in load("jabra_link380c_0b0e_24c9").controls if c.page == 0xFF30]
    assert {(c.report_id, c.usage) for c in vendor} >= {(4, 0x20), (4, 0x2F)}


def test_constant_flagged_controls_are_read():
    """The Link 380c and the Razer mic flag their hook switch Constant and fill it."""
    for stem in ("jabra_link380c_0b0e_24c9", "razer_rz19-0229_mic_1532_0511"):
        hook = next(c for c in load(stem).headset_controls() if c.name == "hook_switch")
        assert hook.constant
        decoder = HeadsetDecoder(load(stem))
        assert [e.kind for e in decoder.feed(bytes([2, 0b1, 0]), now=0.0)] == ["off_hook"]


def test_identical_files_parse_identically():
    """EPOS IMPACT D and DW are byte-identical (README): a parser with hidden state would not
    give the same answer twice."""
    assert load("epos_impact_d_1395_00a9") == load("epos_impact_dw_1395_00a2")
