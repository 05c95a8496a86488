"""``medlytt init``: the config it writes passes check-config, it never overwrites without
--force, the Asterisk lines it prints are the ones the sandbox runs with, and the systemd
unit it prints is valid and hardened."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from medlytt.gateways.asterisk.sandbox.config import CONF_DIR
from support import MEDLYTT, medlytt_env


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MEDLYTT, *args], env=medlytt_env(), capture_output=True, text=True, timeout=60, cwd=cwd
    )


def test_init_writes_a_config_that_passes_check_config(tmp_path):
    result = run(tmp_path, "init")
    assert result.returncode == 0, result.stderr
    written = tmp_path / "medlytt.toml"
    assert "wrote medlytt.toml" in result.stderr
    check = run(tmp_path, "check-config", "--config", str(written))
    assert check.returncode == 0, check.stderr
    assert "config OK" in check.stderr


def test_init_refuses_to_overwrite_without_force(tmp_path):
    target = tmp_path / "mine.toml"
    target.write_text("[server]\nport = 9000\n")
    refused = run(tmp_path, "init", "--path", str(target))
    assert refused.returncode == 1
    assert "exists; not overwritten (use --force" in refused.stderr
    assert target.read_text() == "[server]\nport = 9000\n"
    forced = run(tmp_path, "init", "--path", str(target), "--force")
    assert forced.returncode == 0 and "[asterisk]" in target.read_text()


def test_init_into_a_missing_folder_says_so(tmp_path):
    result = run(tmp_path, "init", "--path", str(tmp_path / "no" / "medlytt.toml"))
    assert result.returncode == 1 and "cannot write" in result.stderr


def conf_sections(text: str) -> dict[str, dict[str, str]]:
    """``[section] key = value`` of an Asterisk config text, comments removed (a repeated
    section name, as in the snippets of several files, merges)."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
        elif "=" in line and "=>" not in line:
            key, _, value = line.partition("=")
            current[key.strip()] = value.strip()
    return sections


def test_the_asterisk_lines_are_the_settings_the_sandbox_is_tested_with(tmp_path):
    printed = run(tmp_path, "init").stdout
    snippet = conf_sections(printed)
    for name in ("manager.conf", "http.conf", "ari.conf"):
        tested = conf_sections((CONF_DIR / name).read_text())
        for section, options in tested.items():
            key = "medlytt" if section.startswith("@@") else section
            for option in ("enabled", "timestampevents", "read", "write", "read_only", "type"):
                if option in options:
                    assert snippet[key][option] == options[option], (name, section, option)
    # the dialplan hooks, exactly as the sandbox's extensions.conf uses them
    assert "Set(TALK_DETECT(set)=)" in printed
    assert "Stasis(medlytt,survey,${CHANNEL(linkedid)})" in printed
    assert (
        "Stasis(medlytt,survey,${CHANNEL(linkedid)})" in (CONF_DIR / "extensions.conf").read_text()
    )


UNIT_KEYS = {
    "User": "medlytt",
    "Restart": "on-failure",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "ReadWritePaths": "/var/lib/medlytt",
    "StateDirectory": "medlytt",
    "WorkingDirectory": "/var/lib/medlytt",
}


def unit_text(tmp_path) -> str:
    result = run(tmp_path, "init", "--systemd")
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "medlytt.toml").exists()  # --systemd only prints
    return result.stdout


def test_the_systemd_unit_runs_as_medlytt_restarts_on_failure_and_is_hardened(tmp_path):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(unit_text(tmp_path))
    service = parser["Service"]
    for key, value in UNIT_KEYS.items():
        assert service.get(key) == value, key
    assert service["User"] != "root"
    assert service["ExecStart"].endswith("serve --config /etc/medlytt/medlytt.toml")
    assert parser["Install"]["WantedBy"] == "multi-user.target"
    # a config error (exit 2) is not retried in a loop
    assert service["RestartPreventExitStatus"] == "2"


def test_systemd_analyze_verifies_the_unit(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (the keys are checked above)")
    text = unit_text(tmp_path)
    # verify wants ExecStart's program to exist: point it at this installation's medlytt
    unit = tmp_path / "medlytt.service"
    unit.write_text(re.sub(r"/opt/medlytt/bin/medlytt", MEDLYTT, text))
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "medlytt.service" not in result.stderr, result.stderr  # no warning about it
