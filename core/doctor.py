"""``medlytt doctor``: check an installation before (or while) it runs, each failure with its fix.

Why a command of its own: a wrong URL, password or Asterisk setting otherwise shows up as a
gateway that keeps reconnecting, or as numbers that are silently wrong.  The doctor asks
each thing once, says what it found and, for each failure, what to change.

The core checks what it owns (the config, storage, the HTTP port, the plugins); each plugin
adds its own checks through the ``medlytt_doctor`` hook (the Asterisk gateway checks ARI and
AMI of every configured PBX).  Exit status: 0 when nothing failed (warnings alone are fine),
1 when a check failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sqlite3
import sys
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import click

from .client import config_option
from .logs import scrub

Status = Literal["ok", "warn", "fail"]

#: Seconds the plugins' checks may take together (AMI and ARI round trips, event waits).
PLUGIN_CHECKS_TIMEOUT = 60.0


@dataclass(frozen=True)
class DoctorCheck:
    """One finding of ``medlytt doctor``.

    ``status`` is ``ok``, ``warn`` (works, but something the user should know, e.g. an
    Asterisk version with a known defect) or ``fail`` (Medlytt will not work as configured);
    ``fix`` says what to change, and is given for every warning and failure.
    """

    name: str
    status: Status
    detail: str
    fix: str = ""

    @classmethod
    def ok(cls, name: str, detail: str) -> DoctorCheck:
        return cls(name, "ok", detail)

    @classmethod
    def warn(cls, name: str, detail: str, fix: str) -> DoctorCheck:
        return cls(name, "warn", detail, fix)

    @classmethod
    def fail(cls, name: str, detail: str, fix: str) -> DoctorCheck:
        return cls(name, "fail", detail, fix)


def storage_check(path: str) -> DoctorCheck:
    """Can Medlytt create, open and write ``[storage] path``?"""
    name = "storage"
    file = Path(path)
    folder = file.parent if str(file.parent) else Path(".")
    if not folder.is_dir():
        return DoctorCheck.fail(
            name,
            f"folder {folder} of {path} does not exist",
            f"create it for the user Medlytt runs as (e.g. install -d -o medlytt {folder})",
        )
    if not file.exists():
        if not os.access(folder, os.W_OK | os.X_OK):
            return DoctorCheck.fail(
                name,
                f"cannot create {path}: folder {folder} is not writable by this user",
                f"give the user Medlytt runs as write access to {folder}",
            )
        return DoctorCheck.ok(name, f"{path} will be created in writable {folder}")
    try:
        db = sqlite3.connect(f"file:{file}?mode=rw", uri=True, timeout=5)
        try:
            db.execute("BEGIN IMMEDIATE")  # a write lock, released at once: nothing changes
            db.execute("ROLLBACK")
        finally:
            db.close()
    except sqlite3.Error as exc:
        return DoctorCheck.fail(
            name,
            f"cannot write {path}: {exc}",
            f"give the user Medlytt runs as write access to {path} and its folder "
            "(SQLite writes a -wal file beside it)",
        )
    if not os.access(folder, os.W_OK):
        return DoctorCheck.fail(
            name,
            f"folder {folder} is not writable: SQLite cannot write its -wal file",
            f"give the user Medlytt runs as write access to {folder}",
        )
    return DoctorCheck.ok(name, f"{path} is writable")


def port_check(host: str, port: int) -> DoctorCheck:
    """Is ``[server]``'s address free to listen on (or already served by a Medlytt)?"""
    name = "http port"
    if port == 0:
        return DoctorCheck.ok(name, "port 0: a free port is picked at start")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return DoctorCheck.fail(
            name, f"server.host {host!r} is not an address here: {exc}", "set [server] host"
        )
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if _medlytt_answers(host, port):
                return DoctorCheck.ok(name, f"{host}:{port} is served by a running Medlytt")
            return DoctorCheck.fail(
                name,
                f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                "stop what listens there, or choose another [server] port (or serve --port)",
            )
    return DoctorCheck.ok(name, f"{host}:{port} is free")


def _medlytt_answers(host: str, port: int) -> bool:
    where = f"[{host}]" if ":" in host else host
    if host in ("0.0.0.0", "::", ""):
        where = "127.0.0.1"
    try:
        with urllib.request.urlopen(f"http://{where}:{port}/healthz", timeout=2) as response:
            return b"ok" in response.read(200).lower()
    except (OSError, ValueError):
        return False


def plugin_checks(host: Any) -> list[DoctorCheck]:
    """Every plugin that loaded, and every one that did not with its reason."""
    checks = [
        DoctorCheck.ok(f"plugin {p.name}", f"{p.version} ({p.source})") for p in host.plugins()
    ]
    for plugin, why in sorted(host.disabled.items()):
        if why.startswith("enabled = false"):
            checks.append(DoctorCheck.ok(f"plugin {plugin}", f"disabled ({why})"))
        else:
            checks.append(
                DoctorCheck.fail(
                    f"plugin {plugin}",
                    f"not loaded: {why}",
                    "reinstall the package that provides it, or uninstall it",
                )
            )
    return checks


async def run_plugin_checks(host: Any, plugin_configs: dict[str, Any]) -> list[DoctorCheck]:
    """The ``medlytt_doctor`` checks of every plugin; a plugin that fails is a failure."""
    checks: list[DoctorCheck] = []
    for info, impl in list(host.implementations("medlytt_doctor")):
        kwargs = {"plugin_configs": plugin_configs}
        try:
            result = impl.function(*[kwargs[name] for name in impl.argnames])
            if asyncio.iscoroutine(result):
                result = await asyncio.wait_for(result, PLUGIN_CHECKS_TIMEOUT)
        except Exception as exc:
            checks.append(
                DoctorCheck.fail(
                    f"plugin {info.name}",
                    f"its checks failed: {scrub(repr(exc))}",
                    "report this to the plugin's authors",
                )
            )
            continue
        checks.extend(result or [])
    return checks


def diagnose(config_path: Path | None) -> list[DoctorCheck]:
    """Every check, in order; a config error ends the list (nothing else can be read)."""
    from .app import load_plugins
    from .config import ConfigError, load_config

    try:
        config = load_config(config_path)
        host, plugin_configs = load_plugins(config)
    except ConfigError as exc:
        return [DoctorCheck.fail("config", scrub(str(exc)), "correct the key it names")]
    where = str(config.path) if config.path else "no file: defaults (the demo runs)"
    checks = [DoctorCheck.ok("config", where)]
    checks.append(storage_check(config.storage.path))
    checks.append(port_check(config.server.host, config.server.port))
    checks.extend(plugin_checks(host))
    checks.extend(asyncio.run(run_plugin_checks(host, plugin_configs)))
    return checks


MARKS = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


@click.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
def doctor(config_path: Path | None, as_json: bool) -> None:
    """Check the config, storage, port, plugins and every PBX; say how to fix each failure.

    Exit status 0 when nothing failed (warnings alone are fine), 1 otherwise.
    """
    import logging

    logging.disable(logging.CRITICAL)  # the findings are the output, not the log lines
    checks = diagnose(config_path)
    failed = any(c.status == "fail" for c in checks)
    if as_json:
        data = {"ok": not failed, "checks": [asdict(c) for c in checks]}
        click.echo(json.dumps(data, indent=2))
    else:
        for check in checks:
            click.echo(f"{MARKS[check.status]}  {check.name}: {check.detail}")
            if check.fix:
                click.echo(f"      fix: {check.fix}")
        counts = {s: sum(c.status == s for c in checks) for s in MARKS}
        summary = f"{counts['ok']} ok, {counts['warn']} warnings, {counts['fail']} failed"
        click.echo(summary, err=True)
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    sys.exit(1 if failed else 0)
