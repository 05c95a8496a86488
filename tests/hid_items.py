"""HID report descriptors built item by item, and the real ones in ../shared/hid, for the
tests/test_hid_*.py files: each test shows every item of the descriptor it uses."""

from __future__ import annotations

from pathlib import Path

import pytest

#: Real devices' descriptors (../shared/hid, issue 13): read there at test time, never copied.
SHARED = Path(__file__).resolve().parents[2] / "shared" / "hid"
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(),
    reason=f"the real headset descriptors are not here ({SHARED} is absent: a clone "
    "without ../shared beside it)",
)

# Item prefixes with the size bits cleared (type and tag only).
USAGE_PAGE, LMIN, LMAX, RSIZE, RID, RCOUNT, PUSH, POP = (
    0x04,
    0x14,
    0x24,
    0x74,
    0x84,
    0x94,
    0xA4,
    0xB4,
)
USAGE, UMIN, UMAX = 0x08, 0x18, 0x28
INPUT, OUTPUT, FEATURE, COLLECTION, END = 0x80, 0x90, 0xB0, 0xA0, 0xC0
TEL, LED, BUTTON, VENDOR = 0x0B, 0x08, 0x09, 0xFF30
DATA_VAR_ABS, DATA_VAR_REL, DATA_ARRAY, CONST_VAR, CONST_ARRAY = 0x02, 0x06, 0x00, 0x03, 0x01


def item(prefix: int, value: int | None = None, size: int | None = None) -> bytes:
    """One short item: ``prefix`` (type and tag) with ``value`` in 0, 1, 2 or 4 bytes."""
    if value is None:
        return bytes([prefix])
    if size is None:
        size = 1 if value <= 0xFF else 2 if value <= 0xFFFF else 4
    code = {0: 0, 1: 1, 2: 2, 4: 3}[size]
    return bytes([prefix | code]) + value.to_bytes(size, "little")


def one_bit_fields(count: int) -> bytes:
    return item(LMIN, 0) + item(LMAX, 1) + item(RSIZE, 1) + item(RCOUNT, count)


def app(*body: bytes, page: int = TEL, usage: int = 0x05) -> bytes:
    return (
        item(USAGE_PAGE, page)
        + item(USAGE, usage)
        + item(COLLECTION, 1)
        + b"".join(body)
        + item(END)
    )
