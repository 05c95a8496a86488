"""One sandbox instance: a chrooted Asterisk with its own config, ports, logs and passwords.

Several instances share one cached root (different names and ports); the ``/proc`` and
``/dev`` bind mounts are shared and removed when the last instance stops.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .ari_client import AriClient
from .config import (
    AMI_USER,
    ARI_APP,
    ARI_USER,
    SECRET_FILES,
    SIP_PHONES,
    debian_directories,
    fmt_seconds,
    render_config,
)
from .host import (
    cmdline,
    locked,
    mount_points,
    mounts_under,
    pid_alive,
    processes_in_root,
    remove_tree,
    require_root,
    unmount,
)
from .messages import Log, SandboxError, stderr_log, tail
from .ports import ami_banner, port_free
from .queue_log import QueueLogLine, read_queue_log
from .root import (
    CHROOT_PATH,
    ROOT_MARKER,
    RootInfo,
    cleanup_stale_builds,
    default_cache_dir,
    ensure_root,
)

INSTANCES_DIR = "medlytt-sandbox"
"""Instances live in ROOT/medlytt-sandbox/NAME (/medlytt-sandbox/NAME in the chroot)."""
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$")
"""An instance or queue name: safe in a path and in the dialplan."""


@dataclass
class SandboxSettings:
    """What one sandbox instance listens on and how its demo contact center behaves.

    Ports are loopback-only and deliberately non-standard (a real PBX keeps 5038/5060/8088).
    ``agent_timeout`` is how long a queue member rings before RINGNOANSWER; ``ring``,
    ``talk`` and ``max_wait`` are the dialplan defaults a call can override.
    """

    instance: str = "default"
    http_port: int = 18088
    ami_port: int = 15038
    sip_port: int = 15060
    cache_dir: Path | None = None
    rtp_start: int = 31000
    rtp_end: int = 31999
    agent_timeout: int = 15
    ring: float = 1
    talk: float = 3
    max_wait: int = 300
    ready_timeout: float = 60

    def port_fields(self) -> dict[str, int]:
        """The settings persisted per instance (so stop/status/call need only the name)."""
        return {
            "http_port": self.http_port,
            "ami_port": self.ami_port,
            "sip_port": self.sip_port,
            "rtp_start": self.rtp_start,
            "rtp_end": self.rtp_end,
        }


@dataclass(frozen=True)
class SandboxInfo:
    """A running sandbox instance: where it is, what it listens on, how to reach it."""

    instance: str
    pid: int
    root: Path
    instance_dir: Path
    http_port: int
    ami_port: int
    sip_port: int
    version: str
    suite: str
    asterisk_section: dict[str, Any]
    cache_reused: bool | None = None
    """True/False when this call to ``start`` found/built the root; None otherwise."""
    ready_seconds: float | None = None
    """Seconds from launching Asterisk to ARI and AMI answering (``start`` only)."""
    already_running: bool = False

    @property
    def queue_log_path(self) -> Path:
        return self.instance_dir / "log" / "queue_log"


class AsteriskSandbox:
    """One sandbox instance: a chrooted Asterisk with its own config, ports and logs.

    Every method is blocking and safe to call again (``start`` on a running instance
    returns its info, ``stop`` on a stopped one does nothing). Usable from tests::

        sandbox = AsteriskSandbox(SandboxSettings(instance="t1", http_port=28088))
        sandbox.start()
        callid = place_call(sandbox, "support", ring=1, talk=2)  # sandbox/calls.py
        lines = wait_for_call(sandbox, callid)
        sandbox.stop()
    """

    def __init__(self, settings: SandboxSettings, log: Log = stderr_log) -> None:
        if not NAME_RE.match(settings.instance):
            raise SandboxError(
                f"invalid instance name {settings.instance!r}: use letters, digits, . _ -"
            )
        self.settings = settings
        self.log = log
        self.root = Path(os.path.realpath(settings.cache_dir or default_cache_dir()))
        self.inner_dir = f"/{INSTANCES_DIR}/{settings.instance}"
        self.instance_dir = self.root / INSTANCES_DIR / settings.instance
        self._proc: subprocess.Popen[bytes] | None = None

    # -- paths and stored state ------------------------------------------------------------

    @property
    def inner_conf(self) -> str:
        """asterisk.conf as Asterisk sees it inside the chroot."""
        return f"{self.inner_dir}/etc/asterisk.conf"

    @property
    def queue_log_path(self) -> Path:
        """Host path of this instance's queue_log."""
        return self.instance_dir / "log" / "queue_log"

    @property
    def pid_file(self) -> Path:
        return self.instance_dir / "asterisk.pid"

    def _stored(self, name: str) -> dict[str, Any]:
        try:
            return json.loads((self.instance_dir / name).read_text())
        except (OSError, ValueError):
            return {}

    def _secrets(self) -> dict[str, str]:
        """Passwords of this instance, generated once and kept in a 0600 file."""
        path = self.instance_dir / "secrets.json"
        stored = self._stored("secrets.json")
        wanted = ["ari_password", "ami_secret"] + [f"sip_{phone}_password" for phone in SIP_PHONES]
        if all(stored.get(key) for key in wanted):
            return stored
        for key in wanted:
            stored.setdefault(key, secrets.token_urlsafe(18))
        _write_private(path, json.dumps(stored, indent=2) + "\n")
        return stored

    def _ports(self) -> dict[str, int]:
        """Ports the instance was last started with (what a running instance listens on)."""
        stored = self._stored("instance.json")
        return {**self.settings.port_fields(), **stored.get("ports", {})}

    @property
    def asterisk_section(self) -> dict[str, Any]:
        """The ``[asterisk]`` section of Medlytt's config that points at this sandbox."""
        ports = self._ports()
        creds = self._secrets() if self.instance_dir.is_dir() else self._stored("secrets.json")
        return {
            "ari_url": f"http://127.0.0.1:{ports['http_port']}",
            "ari_user": ARI_USER,
            "ari_password": creds.get("ari_password", ""),
            "app": ARI_APP,
            "ami_host": "127.0.0.1",
            "ami_port": ports["ami_port"],
            "ami_user": AMI_USER,
            "ami_secret": creds.get("ami_secret", ""),
        }

    def ari(self) -> AriClient:
        """A blocking ARI client authenticated as the sandbox's ARI user."""
        ports = self._ports()
        return AriClient(ports["http_port"], ARI_USER, self._stored("secrets.json")["ari_password"])

    # -- lifecycle --------------------------------------------------------------------------

    def _running_pid(self) -> int | None:
        """Pid of this instance's Asterisk if it runs (checked against its command line)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if pid_alive(pid) and self.inner_conf in cmdline(pid):
            return pid
        return None

    def status(self) -> SandboxInfo | None:
        """Info on the running instance, or None when it is not running."""
        pid = self._running_pid()
        if pid is None:
            return None
        return self._info(pid)

    def _info(self, pid: int, **extra: Any) -> SandboxInfo:
        ports = self._ports()
        marker = self._stored_marker()
        return SandboxInfo(
            instance=self.settings.instance,
            pid=pid,
            root=self.root,
            instance_dir=self.instance_dir,
            http_port=ports["http_port"],
            ami_port=ports["ami_port"],
            sip_port=ports["sip_port"],
            version=marker.get("version", "?"),
            suite=marker.get("suite", "?"),
            asterisk_section=self.asterisk_section,
            **extra,
        )

    def _stored_marker(self) -> dict[str, Any]:
        try:
            return json.loads((self.root / ROOT_MARKER).read_text())
        except (OSError, ValueError):
            return {}

    def start(self) -> SandboxInfo:
        """Bootstrap or reuse the root, write the config, run Asterisk, wait until ready.

        On any failure everything this call started is stopped and unmounted again, and the
        error carries the tail of Asterisk's logs.
        """
        require_root()
        current = self.status()
        if current is not None:
            self.log(f"sandbox {self.settings.instance!r} is already running (pid {current.pid})")
            return dataclasses.replace(current, already_running=True)
        root_info = ensure_root(self.root, self.log)
        try:
            with locked(self.root, self.log):
                self._write_instance(root_info)
                self._check_ports()
                self._ensure_mounts()
                launched = time.monotonic()
                self._launch()
            self._wait_ready()
        except BaseException as exc:
            tail = self.log_tail()
            with contextlib.suppress(Exception):
                self.stop(quiet=True, graceful=False)
            if isinstance(exc, SandboxError):
                raise SandboxError(f"{exc}\n--- Asterisk log tail ---\n{tail}") from None
            raise
        ready = round(time.monotonic() - launched, 2)
        info = self._info(
            self._proc.pid if self._proc else 0, cache_reused=root_info.reused, ready_seconds=ready
        )
        self.log(
            f"Asterisk {info.version} ready in {ready} s: sandbox {info.instance!r} "
            f"(pid {info.pid}), ARI/HTTP 127.0.0.1:{info.http_port}, "
            f"AMI 127.0.0.1:{info.ami_port}, SIP udp 127.0.0.1:{info.sip_port}"
        )
        self.log(f"queue_log: {info.queue_log_path}")
        return info

    def _write_instance(self, root_info: RootInfo) -> None:
        for sub in ("etc", "log", "spool", "spool/rx", "spool/recording", "run", "lib", "cache"):
            (self.instance_dir / sub).mkdir(parents=True, exist_ok=True)
        self.instance_dir.chmod(0o700)
        creds = self._secrets()
        s = self.settings
        values = {
            "INSTANCE": s.instance,
            "INNER_DIR": self.inner_dir,
            "HTTP_PORT": str(s.http_port),
            "AMI_PORT": str(s.ami_port),
            "SIP_PORT": str(s.sip_port),
            "RTP_START": str(s.rtp_start),
            "RTP_END": str(s.rtp_end),
            "ARI_USER": ARI_USER,
            "ARI_PASSWORD": creds["ari_password"],
            "AMI_USER": AMI_USER,
            "AMI_SECRET": creds["ami_secret"],
            "AGENT_TIMEOUT": str(int(s.agent_timeout)),
            "RING": fmt_seconds(s.ring),
            "TALK": fmt_seconds(s.talk),
            "MAXWAIT": str(int(s.max_wait)),
            **{f"SIP_{p}_PASSWORD": creds[f"sip_{p}_password"] for p in SIP_PHONES},
            **{k.upper(): v for k, v in debian_directories(self.root).items()},
        }
        etc = self.instance_dir / "etc"
        for name, text in render_config(values).items():
            if name in SECRET_FILES:
                _write_private(etc / name, text)
            else:
                (etc / name).write_text(text)
        state = {
            "instance": s.instance,
            "ports": s.port_fields(),
            "asterisk_version": root_info.version,
            "suite": root_info.suite,
        }
        (self.instance_dir / "instance.json").write_text(json.dumps(state, indent=2) + "\n")

    def _check_ports(self) -> None:
        s = self.settings
        busy = [
            f"{what} {port}"
            for what, port, kind in (
                ("--http-port", s.http_port, socket.SOCK_STREAM),
                ("--ami-port", s.ami_port, socket.SOCK_STREAM),
                ("--sip-port", s.sip_port, socket.SOCK_DGRAM),
            )
            if not port_free(port, kind)
        ]
        if busy:
            raise SandboxError(
                "port(s) already in use on 127.0.0.1: "
                + ", ".join(busy)
                + " (another PBX or sandbox?); choose others with those options"
            )

    def _ensure_mounts(self) -> None:
        """Bind /proc and /dev into the root unless already there (shared by instances)."""
        current = set(mount_points())
        for name in ("proc", "dev"):
            target = self.root / name
            if target in current:
                continue
            target.mkdir(exist_ok=True)
            result = subprocess.run(
                ["mount", "--bind", f"/{name}", str(target)], capture_output=True, text=True
            )
            if result.returncode != 0:
                raise SandboxError(f"mount --bind /{name} {target}: {result.stderr.strip()}")

    def _launch(self) -> None:
        console = self.instance_dir / "log" / "console.log"
        with open(console, "ab") as out:
            out.write(f"\n=== {datetime.now(UTC).isoformat()} start\n".encode())
            out.flush()
            self._proc = subprocess.Popen(
                ["chroot", str(self.root), "asterisk", "-f", "-n", "-C", self.inner_conf],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                env={"PATH": CHROOT_PATH, "LANG": "C.UTF-8", "HOME": "/root", "TERM": "dumb"},
            )
        self.pid_file.write_text(f"{self._proc.pid}\n")

    def _wait_ready(self) -> None:
        """Poll ARI's /asterisk/info, then AMI's banner, until both answer."""
        ports = self._ports()
        ari = self.ari()
        deadline = time.monotonic() + self.settings.ready_timeout
        ari_ok = False
        last_error = ""
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise SandboxError(f"Asterisk exited with status {self._proc.returncode}")
            try:
                if not ari_ok:
                    info = ari.request("GET", "/asterisk/info")
                    ari_ok = bool(info and info.get("system", {}).get("version"))
                banner = ami_banner(ports["ami_port"])
                if ari_ok and banner.startswith("Asterisk Call Manager/"):
                    return
                last_error = f"AMI banner {banner!r}"
            except (OSError, SandboxError, ValueError) as exc:
                last_error = str(exc)
            time.sleep(0.2)
        raise SandboxError(
            f"Asterisk did not answer ARI and AMI within {self.settings.ready_timeout} s "
            f"({last_error})"
        )

    def stop(self, *, quiet: bool = False, graceful: bool = True) -> None:
        """Stop Asterisk (CLI, then SIGTERM, then SIGKILL) and unmount if nobody else runs.

        ``graceful=False`` skips ``core stop now``: an Asterisk that is still booting takes
        the command but only acts on it once booted, while SIGTERM stops it at once.
        """
        require_root()
        pid = self._running_pid()
        if pid is None and self._proc is not None and self._proc.poll() is None:
            pid = self._proc.pid
        if pid is not None:
            if not quiet:
                self.log(f"stopping sandbox {self.settings.instance!r} (pid {pid})")
            grace = 0.0
            if graceful:
                try:
                    self.cli("core stop now", timeout=5)
                    grace = 10.0
                except (SandboxError, subprocess.TimeoutExpired):
                    grace = 0.5  # its CLI does not answer: go on to signals
            term_wait = 5.0 if graceful else 2.0
            for sig, wait in ((None, grace), (signal.SIGTERM, term_wait), (signal.SIGKILL, 5.0)):
                if sig is not None:
                    with contextlib.suppress(OSError):
                        os.killpg(pid, sig)
                    with contextlib.suppress(OSError):
                        os.kill(pid, sig)
                if self._wait_exit(pid, wait):
                    break
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)
            self._proc = None
        with contextlib.suppress(OSError):
            self.pid_file.unlink()
        with locked(self.root, self.log):
            self._release_mounts(quiet)

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.pid == pid:
                self._proc.poll()  # reap our own child so it does not linger as a zombie
            if not pid_alive(pid):
                return True
            time.sleep(0.1)
        return not pid_alive(pid)

    def other_running_instances(self) -> list[str]:
        """Other instances with a live Asterisk in this root (they still need the mounts)."""
        others = []
        for pid_file in (self.root / INSTANCES_DIR).glob("*/asterisk.pid"):
            name = pid_file.parent.name
            if name == self.settings.instance:
                continue
            try:
                pid = int(pid_file.read_text().strip())
            except (OSError, ValueError):
                continue
            if pid_alive(pid) and f"/{INSTANCES_DIR}/{name}/etc/asterisk.conf" in cmdline(pid):
                others.append(name)
        # Also every other instance's Asterisk that runs in the root without its pid file
        # (e.g. removed by a purge that raced it): never take the mounts from under it.
        mine = f"/{INSTANCES_DIR}/{self.settings.instance}/"
        for pid in processes_in_root(self.root):
            args = cmdline(pid)
            if "-rx" in args:
                continue
            for arg in args:
                if (
                    arg.startswith(f"/{INSTANCES_DIR}/")
                    and arg.endswith("/etc/asterisk.conf")
                    and not arg.startswith(mine)
                ):
                    name = arg.split("/")[2]
                    if name not in others:
                        others.append(name)
        return others

    def _release_mounts(self, quiet: bool) -> None:
        others = self.other_running_instances()
        if others:
            if not quiet:
                self.log(f"leaving /proc and /dev mounted: still used by {', '.join(others)}")
            return
        for pid in processes_in_root(self.root):  # stray `asterisk -rx` and the like
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        for name in ("dev", "proc"):
            target = self.root / name
            if target in mount_points():
                unmount(target)

    def purge(self) -> None:
        """Stop the instance and delete its folder (config, logs, passwords)."""
        self.stop(quiet=True)
        if mounts_under(self.instance_dir):
            raise SandboxError(f"refusing to delete {self.instance_dir}: mounts inside")
        shutil.rmtree(self.instance_dir, ignore_errors=True)

    # -- using it ---------------------------------------------------------------------------

    def cli(self, command: str, *, timeout: float = 15) -> str:
        """Run an Asterisk CLI command (``asterisk -rx``) against this instance."""
        result = subprocess.run(
            ["chroot", str(self.root), "asterisk", "-C", self.inner_conf, "-rx", command],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={"PATH": CHROOT_PATH, "LANG": "C.UTF-8", "HOME": "/root", "TERM": "dumb"},
        )
        if result.returncode != 0:
            detail = result.stderr.strip() or result.stdout
            raise SandboxError(f"asterisk -rx {command!r}: {detail}")
        return result.stdout

    def queue_log(self) -> list[QueueLogLine]:
        """Every parsed line of this instance's queue_log (empty before the first call)."""
        return read_queue_log(self.queue_log_path)

    def log_tail(self, lines: int = 40) -> str:
        """The end of Asterisk's console output and messages.log, for error reports."""
        log_dir = self.instance_dir / "log"
        return (
            f"[console.log]\n{tail(log_dir / 'console.log', lines)}\n"
            f"[messages.log]\n{tail(log_dir / 'messages.log', lines)}"
        )


def _write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only (it holds passwords)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    path.chmod(0o600)


def destroy_root(cache_dir: Path | None = None, log: Log = stderr_log) -> None:
    """Stop every instance in the cached root and delete it (the next start re-bootstraps)."""
    require_root()
    root = Path(os.path.realpath(cache_dir or default_cache_dir()))
    for instance_dir in sorted((root / INSTANCES_DIR).glob("*")):
        if instance_dir.is_dir() and NAME_RE.match(instance_dir.name):
            AsteriskSandbox(
                SandboxSettings(instance=instance_dir.name, cache_dir=root), log=log
            ).stop(quiet=True)
    with locked(root, log):
        remove_tree(root)
        cleanup_stale_builds(root, log)
    log(f"deleted {root}")
