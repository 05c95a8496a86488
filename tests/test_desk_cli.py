"""``medlytt keys`` and ``medlytt desk`` as a person runs them (subprocesses)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path

from medlytt.gateways.desk.keys import load_secret_key
from support import MEDLYTT, free_port, medlytt_env

STARTUP = 90  # seconds a loaded CI machine may take to start the command (not a speed goal)


def make_keys(folder: Path, name: str) -> str:
    result = subprocess.run(
        [MEDLYTT, "keys", name, "--dir", str(folder)],
        capture_output=True,
        text=True,
        env=medlytt_env(),
        timeout=STARTUP,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def desk_command(keys: Path) -> list[str]:
    """``medlytt desk`` with the keys in ``keys``, to a core that is not there."""
    return [
        *(MEDLYTT, "desk", "--core", f"tcp://127.0.0.1:{free_port()}", "--agent", "PJSIP/1001"),
        *("--key", str(keys / "desk.key_secret"), "--core-key", str(keys / "core.key")),
    ]


def test_keys_are_written_owner_only_and_the_secret_is_never_printed(tmp_path: Path):
    out = make_keys(tmp_path, "desk-1001")
    public, secret = load_secret_key(tmp_path / "desk-1001.key_secret")
    assert f"public key: {public.decode()}" in out
    assert secret.decode() not in out
    for name in ("desk-1001.key", "desk-1001.key_secret"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert secret.decode() not in (tmp_path / "desk-1001.key").read_text()
    again = subprocess.run(
        [MEDLYTT, "keys", "desk-1001", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=medlytt_env(),
        timeout=STARTUP,
    )
    assert again.returncode == 1 and "exists; pass --force" in again.stderr


def test_a_secret_key_file_others_can_read_is_refused(tmp_path: Path):
    make_keys(tmp_path, "desk")
    make_keys(tmp_path, "core")
    os.chmod(tmp_path / "desk.key_secret", 0o644)
    result = subprocess.run(
        desk_command(tmp_path),
        capture_output=True,
        text=True,
        env=medlytt_env(),
        timeout=STARTUP,
    )
    assert result.returncode == 1
    assert "may be read by others (mode 0644)" in result.stderr and "chmod 600" in result.stderr


def test_medlytt_desk_without_a_headset_runs_and_says_so(tmp_path: Path):
    make_keys(tmp_path, "desk")
    make_keys(tmp_path, "core")
    desk = subprocess.Popen(
        [*desk_command(tmp_path), "--heartbeat", "0.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=medlytt_env(),
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(desk.stdout.readline, "")))
    reader.start()
    try:
        deadline = time.monotonic() + STARTUP
        while not any("no headset" in line for line in lines):
            assert desk.poll() is None, f"medlytt desk exited: {lines}"
            assert time.monotonic() < deadline, f"medlytt desk never said: {lines}"
            time.sleep(0.1)
        assert desk.poll() is None  # it runs on without a headset
    finally:
        desk.send_signal(signal.SIGTERM)
        status = desk.wait(STARTUP)
        reader.join(5)
    said = "".join(lines)
    assert status == 0, said
    assert "medlytt desk: agent PJSIP/1001" in said
    headset = next(line for line in lines if "no headset" in line)
    assert "running without headset events" in headset or "no headset attached" in headset
    assert "medlytt desk: stopped" in said
