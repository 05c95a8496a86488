"""``medlytt headset describe FILE [--json]`` (issue 13): the JSON shape, the table, and a clear
error with exit status 2 for files that are not descriptors."""

from __future__ import annotations

import json
import subprocess

import pytest
from click.testing import CliRunner
from hid_items import (
    DATA_VAR_ABS,
    DATA_VAR_REL,
    INPUT,
    LED,
    OUTPUT,
    RID,
    SHARED,
    USAGE,
    USAGE_PAGE,
    app,
    item,
    needs_shared,
    one_bit_fields,
)
from medlytt.hardware.cli import headset
from support import MEDLYTT, medlytt_env

DESCRIPTOR = app(
    item(RID, 3),
    item(USAGE, 0x20),
    one_bit_fields(1),
    item(INPUT, DATA_VAR_ABS),
    item(USAGE, 0x2F),
    item(INPUT, DATA_VAR_REL),
    item(USAGE_PAGE, LED),
    item(USAGE, 0x18),
    item(OUTPUT, DATA_VAR_ABS),
)
KEYS = ["type", "report_id", "bit", "size", "page", "usage", "name", "relative"]


def describe(*args: str):
    return CliRunner().invoke(headset, ["describe", *args])


def test_json_one_object_per_usage_with_the_issue_s_keys(tmp_path):
    path = tmp_path / "headset.bin"
    path.write_bytes(DESCRIPTOR)
    result = describe(str(path), "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert all(list(row) == KEYS for row in rows)
    assert rows == [
        {"type": "input", "report_id": 3, "bit": 0, "size": 1, "page": 11, "usage": 32,
         "name": "hook_switch", "relative": False},
        {"type": "input", "report_id": 3, "bit": 1, "size": 1, "page": 11, "usage": 47,
         "name": "phone_mute", "relative": True},
        {"type": "output", "report_id": 3, "bit": 0, "size": 1, "page": 8, "usage": 24,
         "name": "led_ring", "relative": False},
    ]  # fmt: skip


def test_the_table_a_person_reads(tmp_path):
    path = tmp_path / "headset.hex"
    path.write_text(" ".join(f"{b:02x}" for b in DESCRIPTOR))
    result = describe(str(path))
    assert result.exit_code == 0
    header, *lines = result.output.splitlines()
    assert header.split() == ["TYPE", "REPORT", "BIT", "SIZE", "USAGE", "NAME", "MODE", "FLAGS"]
    assert lines[1].split() == ["input", "3", "1", "1", "0x0b:0x002f", "phone_mute", "relative"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty (0 bytes)"),
        (b"05 0b 09 5\n", "token 4 '5' has an odd number of hex digits"),
        (b"05 0b 09", "item 0x09 at byte 2 needs 1 data bytes but only 0 remain (truncated"),
        (bytes([0x05, 0x0B, 0x0A]), "item 0x0a at byte 2 needs 2 data bytes"),
    ],
)
def test_bad_files_exit_2_naming_the_problem(tmp_path, content, message):
    path = tmp_path / "bad.hex"
    path.write_bytes(content)
    result = describe(str(path), "--json")
    assert result.exit_code == 2
    assert message in result.output and str(path) in result.output


def test_a_missing_file_exits_2(tmp_path):
    result = describe(str(tmp_path / "nope.bin"))
    assert result.exit_code == 2 and "cannot read" in result.output


@needs_shared
def test_the_installed_command_on_a_real_descriptor():
    """Through the ``medlytt`` script and the plugin's ``medlytt_cli_commands`` hook."""
    ran = subprocess.run(
        [MEDLYTT, "headset", "describe", "--json", str(SHARED / "poly_bt700_047f_02e6.hex")],
        capture_output=True, text=True, env=medlytt_env(), timeout=60,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    rows = json.loads(ran.stdout)
    assert {"type": "input", "report_id": 32, "bit": 0, "size": 1, "page": 11, "usage": 32,
            "name": "hook_switch", "relative": False} in rows  # fmt: skip
    empty = subprocess.run(
        [MEDLYTT, "headset", "describe", "--json", str(SHARED / "logitech_h540_046d_0a37.hex")],
        capture_output=True, text=True, env=medlytt_env(), timeout=60,
    )  # fmt: skip
    assert (empty.returncode, json.loads(empty.stdout)) == (0, [])
