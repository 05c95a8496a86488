"""Parse a USB HID report descriptor into the headset controls it declares.

A report descriptor is a byte program (HID 1.11, section 6.2.2): *global* items (Usage
Page, Logical Minimum/Maximum, Report Size/Count/ID, Push/Pop) set a state that lasts,
*local* items (Usage, Usage Minimum/Maximum, Delimiter) name the next *main* item only, and
each main item (Input, Output, Feature) lays ``Report Count`` fields of ``Report Size`` bits
into one report.  :func:`parse_descriptor` runs that program and returns every field, one
:class:`HidControl` per usage; :func:`headset_controls` keeps the Telephony-page (0x0B) and
LED-page (0x08) ones, which is what ``medlytt headset describe`` prints.

The rules real headsets need, each with its own test (tests/test_hid_descriptor_rules.py):

* **Page and usage stay together.**  A usage is always the pair (page, id).  Jabra, Poly and
  EPOS repeat their Telephony report on a vendor page (0xFF30...) with the same usage ids:
  those pairs are (0xFF30, 0x20), not a hook switch, and are not reported.
* **Which page a usage is on.**  A 4-byte Usage (an *extended* usage) carries its page in
  its high 16 bits and nothing overrides it.  A 1- or 2-byte Usage takes the Usage Page in
  effect when the Usage item is read; usages that come *after* the last page change keep
  it, and when a Usage Page item comes between the last Usage items and the main item
  ("Usage (7), Usage Page (Button), Input"), those trailing usages take that last declared
  page, as section 6.2.2.8 says ("when the parser encounters a main item it concatenates
  the last declared Usage Page with a Usage").  This is the reading the Linux kernel's
  ``hid_concatenate_last_usage_page`` implements, so Medlytt and hidraw agree.
* Local items are cleared after every main item; Push/Pop save and restore all globals.
* Usage Minimum/Maximum name a range of usages; in an *array* field the usages are the
  values the field may hold (``Logical Minimum`` selects the first), in a *variable* field
  they name the fields in turn, the last usage repeating for any field left over.
* **Constant fields that carry usages are kept.**  Padding is a Constant field without a
  usage; some devices (Poly, Yealink) also flag their real buttons Constant and fill them
  anyway, so a Constant field with usages is reported (``constant=True``) and read.
* Bit offsets count per report (type and Report ID) from the first bit after the Report ID
  byte; a device that declares no Report ID has ``report_id`` 0 and no such byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from .hid_usages import LED_PAGE, TELEPHONY_PAGE, usage_name

ReportType = Literal["input", "output", "feature"]

#: Main item tags (bits 7-4 of the prefix of a main item) that lay out report fields.
_FIELD_TAGS: dict[int, ReportType] = {0x8: "input", 0x9: "output", 0xB: "feature"}
_COLLECTION = 0xA
_END_COLLECTION = 0xC
_LONG_ITEM = 0xFE
_TYPE_MAIN, _TYPE_GLOBAL, _TYPE_LOCAL = 0, 1, 2
#: Bits of an Input/Output/Feature item's data (HID 1.11, 6.2.2.5).
_CONSTANT, _VARIABLE, _RELATIVE = 0x01, 0x02, 0x04
#: A report descriptor's fields are at most this many bits long in Medlytt's view (a
#: headset's are 1-16): a larger Report Size is a corrupt descriptor, not a control.
_MAX_REPORT_SIZE = 256
_MAX_REPORT_COUNT = 4096


class DescriptorError(ValueError):
    """The bytes are not a report descriptor Medlytt can read; the message says why."""


@dataclass(frozen=True)
class HidControl:
    """One usage of one report field, where it sits and how to read it.

    ``bit`` and ``size`` locate the field inside its report, counting from the first bit
    after the Report ID byte.  In an *array* field (``array=True``) the usage is not a bit
    of its own: the field's ``count`` slots of ``size`` bits each hold the indices of the
    usages that are on, and this usage is on when a slot holds ``array_value``.
    """

    type: ReportType
    report_id: int
    bit: int
    size: int
    page: int
    usage: int
    name: str
    relative: bool
    array: bool = False
    constant: bool = False
    logical_min: int = 0
    logical_max: int = 0
    count: int = 1
    array_value: int | None = None

    def as_json(self) -> dict[str, object]:
        """The object ``medlytt headset describe --json`` prints (issue 13 fixes its keys)."""
        return {
            "type": self.type,
            "report_id": self.report_id,
            "bit": self.bit,
            "size": self.size,
            "page": self.page,
            "usage": self.usage,
            "name": self.name,
            "relative": self.relative,
        }


@dataclass(frozen=True)
class ReportDescriptor:
    """Everything a descriptor declares: its controls and the length of each report."""

    controls: tuple[HidControl, ...]
    #: Bits of each report after its Report ID byte, keyed by (type, report id).
    report_bits: dict[tuple[ReportType, int], int]
    uses_report_ids: bool
    #: (page, usage) of each top-level (application) collection, in order.
    applications: tuple[tuple[int, int], ...]

    def report_length(self, report_type: ReportType, report_id: int) -> int:
        """Bytes of that report as the device sends or expects it, Report ID byte included."""
        bits = self.report_bits.get((report_type, report_id), 0)
        return (bits + 7) // 8 + (1 if self.uses_report_ids else 0)

    def headset_controls(self) -> list[HidControl]:
        """The Telephony-page and LED-page controls, in descriptor order."""
        return [c for c in self.controls if c.page in (TELEPHONY_PAGE, LED_PAGE)]


@dataclass
class _Globals:
    usage_page: int = 0
    logical_min: int = 0
    logical_max: int = 0
    report_size: int = 0
    report_count: int = 0
    report_id: int = 0


@dataclass
class _Usage:
    """A usage id as read, with the page it is bound to and whether that page is final."""

    page: int
    usage: int
    extended: bool


@dataclass
class _Locals:
    usages: list[_Usage] = field(default_factory=list)
    usage_min: tuple[int, int, bool] | None = None  # (page, usage, extended)
    delimiter_depth: int = 0
    delimiter_sets: int = 0


def parse_descriptor(data: bytes) -> ReportDescriptor:
    """Run the descriptor's items; raise :class:`DescriptorError` naming the first problem."""
    if not data:
        raise DescriptorError("the descriptor is empty (0 bytes)")
    state = _Globals()
    stack: list[_Globals] = []
    local = _Locals()
    controls: list[HidControl] = []
    report_bits: dict[tuple[ReportType, int], int] = {}
    uses_report_ids = False
    depth = 0
    applications: list[tuple[int, int]] = []
    offset = 0
    while offset < len(data):
        prefix = data[offset]
        if prefix == _LONG_ITEM:
            if offset + 2 >= len(data):
                raise DescriptorError(f"long item at byte {offset} is truncated")
            length = data[offset + 1]
            if offset + 3 + length > len(data):
                raise DescriptorError(
                    f"long item at byte {offset} announces {length} data bytes "
                    f"but the descriptor ends after {len(data) - offset - 3}"
                )
            offset += 3 + length  # no standard long items exist; skip them
            continue
        size = (0, 1, 2, 4)[prefix & 0x03]
        kind = (prefix >> 2) & 0x03
        tag = prefix >> 4
        if offset + 1 + size > len(data):
            raise DescriptorError(
                f"item 0x{prefix:02x} at byte {offset} needs {size} data bytes "
                f"but only {len(data) - offset - 1} remain (truncated descriptor)"
            )
        raw = data[offset + 1 : offset + 1 + size]
        unsigned = int.from_bytes(raw, "little")
        signed = int.from_bytes(raw, "little", signed=True) if size else 0
        where = offset
        offset += 1 + size
        if kind == _TYPE_MAIN:
            if tag in _FIELD_TAGS:
                report_type = _FIELD_TAGS[tag]
                key = (report_type, state.report_id)
                start = report_bits.get(key, 0)
                usages = _bind_usages(local, state.usage_page)
                controls.extend(_field_controls(report_type, start, unsigned, state, usages))
                report_bits[key] = start + state.report_size * state.report_count
            elif tag == _COLLECTION:
                usages = _bind_usages(local, state.usage_page)
                if depth == 0 and usages:
                    applications.append((usages[0].page, usages[0].usage))
                depth += 1
            elif tag == _END_COLLECTION:
                if depth == 0:
                    raise DescriptorError(f"End Collection at byte {where} closes no collection")
                depth -= 1
            local = _Locals()
        elif kind == _TYPE_GLOBAL:
            if tag == 0x0:
                state.usage_page = unsigned
            elif tag == 0x1:
                state.logical_min = signed
            elif tag == 0x2:
                # Logical Maximum is signed only when the minimum is negative (a one-byte
                # 0xFF after a minimum of 0 means 255, as every host reads it).
                state.logical_max = signed if state.logical_min < 0 else unsigned
            elif tag == 0x7:
                if unsigned > _MAX_REPORT_SIZE:
                    raise DescriptorError(f"Report Size {unsigned} at byte {where} is too large")
                state.report_size = unsigned
            elif tag == 0x8:
                if unsigned == 0:
                    raise DescriptorError(f"Report ID 0 at byte {where} is reserved")
                state.report_id = unsigned
                uses_report_ids = True
            elif tag == 0x9:
                if unsigned > _MAX_REPORT_COUNT:
                    raise DescriptorError(f"Report Count {unsigned} at byte {where} is too large")
                state.report_count = unsigned
            elif tag == 0xA:
                stack.append(replace(state))
            elif tag == 0xB:
                if not stack:
                    raise DescriptorError(f"Pop at byte {where} without a Push")
                state = stack.pop()
        elif kind == _TYPE_LOCAL:
            _local_item(local, tag, size, unsigned, state.usage_page)
    if depth:
        raise DescriptorError(f"{depth} collection(s) not closed at the end (truncated?)")
    return ReportDescriptor(
        controls=tuple(controls),
        report_bits=report_bits,
        uses_report_ids=uses_report_ids,
        applications=tuple(applications),
    )


def _local_item(local: _Locals, tag: int, size: int, value: int, page: int) -> None:
    if tag == 0xA:  # Delimiter: open (1) / close (0) a set of alternative usages
        if value == 1:
            local.delimiter_depth += 1
            local.delimiter_sets += 1
        elif local.delimiter_depth:
            local.delimiter_depth -= 1
        return
    if local.delimiter_depth and local.delimiter_sets > 1:
        return  # only the first of a set of alternatives counts (as hosts do)
    extended = size == 4
    usage_page, usage_id = (value >> 16, value & 0xFFFF) if extended else (page, value)
    if tag == 0x0:
        local.usages.append(_Usage(usage_page, usage_id, extended))
    elif tag == 0x1:
        local.usage_min = (usage_page, usage_id, extended)
    elif tag == 0x2 and local.usage_min is not None:
        min_page, first, min_extended = local.usage_min
        # A range stays on one page: the minimum's (an extended maximum cannot move it).
        local.usages.extend(
            _Usage(min_page, usage, min_extended) for usage in range(first, usage_id + 1)
        )
        local.usage_min = None


def _bind_usages(local: _Locals, last_page: int) -> list[_Usage]:
    """Give the trailing non-extended usages the last declared page (HID 1.11, 6.2.2.8).

    Walking back from the last usage, every usage read under another page than the one in
    effect now is re-bound to it, until one already on the current page is met: the
    usages before that one were followed by a Usage Page change *and* by a usage on the new
    page, so they keep the page they were read under.
    """
    usages = [replace(u) for u in local.usages]
    for usage in reversed(usages):
        if usage.extended:
            continue
        if usage.page == last_page:
            break
        usage.page = last_page
    return usages


def _field_controls(
    report_type: ReportType, start: int, flags: int, state: _Globals, usages: list[_Usage]
) -> list[HidControl]:
    """One control per usage of the field an Input/Output/Feature item declares."""
    if not usages or state.report_count == 0 or state.report_size == 0:
        return []  # padding: bits with no usage
    common = {
        "type": report_type,
        "report_id": state.report_id,
        "size": state.report_size,
        "relative": bool(flags & _RELATIVE),
        "constant": bool(flags & _CONSTANT),
        "logical_min": state.logical_min,
        "logical_max": state.logical_max,
    }
    if flags & _VARIABLE:
        result = []
        for index in range(state.report_count):
            usage = usages[min(index, len(usages) - 1)]
            result.append(
                HidControl(
                    bit=start + index * state.report_size,
                    page=usage.page,
                    usage=usage.usage,
                    name=usage_name(usage.page, usage.usage),
                    **common,  # type: ignore[arg-type]
                )
            )
        return result
    # An array: each slot holds Logical Minimum + the index of a usage that is on.
    return [
        HidControl(
            bit=start,
            page=usage.page,
            usage=usage.usage,
            name=usage_name(usage.page, usage.usage),
            array=True,
            count=state.report_count,
            array_value=state.logical_min + index,
            **common,  # type: ignore[arg-type]
        )
        for index, usage in enumerate(usages)
        if state.logical_min + index <= state.logical_max
    ]


def headset_controls(data: bytes) -> list[HidControl]:
    """The Telephony-page and LED-page controls of a descriptor (``headset describe``)."""
    return parse_descriptor(data).headset_controls()


_HEX_TOKEN = re.compile(r"(?:0x)?([0-9a-fA-F]+)")


def descriptor_from_text(text: str) -> bytes:
    """Hex bytes as text: ``05 0b 09 05``, ``0x05, 0x0B``, or one run ``050b0905``."""
    cleaned = re.sub(r"(?m)(#|//).*$", "", text)  # comments as in dumps
    tokens = [t for t in re.split(r"[\s,;]+", cleaned) if t]
    if not tokens:
        raise DescriptorError("the file holds no hex bytes (empty)")
    out = bytearray()
    for position, token in enumerate(tokens, 1):
        match = _HEX_TOKEN.fullmatch(token)
        if not match:
            raise DescriptorError(f"token {position} {token[:20]!r} is not a hex byte")
        digits = match.group(1)
        if len(digits) % 2:
            raise DescriptorError(
                f"token {position} {token[:20]!r} has an odd number of hex digits"
            )
        out.extend(bytes.fromhex(digits))
    return bytes(out)


def read_descriptor_file(path: Path) -> bytes:
    """A descriptor file's bytes: raw binary (a sysfs ``report_descriptor``) or hex text.

    A file is read as text when it decodes as ASCII and holds only hex digits, ``0x``
    prefixes, separators and ``#``/``//`` comments; anything else is binary.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DescriptorError(f"cannot read the file: {exc.strerror or exc}") from exc
    if not raw:
        raise DescriptorError("the file is empty (0 bytes)")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return raw
    if re.fullmatch(r"(?s)(?:[0-9a-fA-FxX\s,;]|#[^\n]*|//[^\n]*)*", text):
        return descriptor_from_text(text)
    return raw
