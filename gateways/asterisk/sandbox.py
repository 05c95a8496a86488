"""A real Asterisk 22 for development and tests: ``medlytt sandbox start|stop|status|call``.

Why a sandbox: Medlytt's gateway must be tested against the events a real Asterisk sends,
not against recordings of them. Debian 12 has no Asterisk and installing sid packages on
the host would drag in a newer libc, so the sandbox bootstraps a separate Debian root
(``debootstrap`` of suite ``sid``, then ``testing``) once, caches it, and runs Asterisk
chrooted into it with a generated demo contact-center configuration.

Layout (host paths)::

    CACHE                       the cached root (``$MEDLYTT_SANDBOX_CACHE`` or
                                ``${XDG_CACHE_HOME:-~/.cache}/medlytt/asterisk-root``)
    CACHE/.medlytt-root.json    written last: suite, Asterisk version, build time and size
    CACHE/medlytt-sandbox/NAME/ one instance: etc/ (config), log/ (queue_log, messages.log,
                                console.log), spool/, run/ (control socket), lib/ (astdb),
                                instance.json (ports), secrets.json (0600)

Several instances can share one root (different ``--instance`` and ports); the ``/proc``
and ``/dev`` bind mounts are shared and removed when the last instance stops. Everything
listens on 127.0.0.1 only, on non-standard ports, so a real PBX on the same host is safe.

Only the standard library and click are used: the sandbox must work before anything else
of Medlytt is installed, and can even be run as a script.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import fcntl
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

# ------------------------------------------------------------------------------------------
# Constants
# ------------------------------------------------------------------------------------------

SUITES: tuple[str, ...] = ("sid", "testing")
"""Debian suites tried in order; both had Asterisk 22 when this was written."""
PACKAGES: tuple[str, ...] = ("asterisk", "asterisk-modules", "asterisk-core-sounds-en-wav")
REQUIRED_MAJOR = "22"
"""Medlytt is written against Asterisk 22's ARI/AMI; a suite with another major is skipped."""

ROOT_MARKER = ".medlytt-root.json"
INSTANCES_DIR = "medlytt-sandbox"
CONF_DIR = Path(__file__).parent / "sandbox_conf"

ARI_USER = "medlytt"
AMI_USER = "medlytt"
ARI_APP = "medlytt"
QUEUES: tuple[str, ...] = ("support", "sales")
SIP_PHONES: tuple[str, ...] = ("1001", "1002", "2001")

TERMINAL_EVENTS = frozenset(
    {"COMPLETEAGENT", "COMPLETECALLER", "ABANDON", "EXITWITHTIMEOUT", "EXITEMPTY", "EXITWITHKEY"}
)
"""queue_log events that end a caller's stay in a queue."""

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$")
_PLACEHOLDER_RE = re.compile(r"@@([A-Z0-9_]+)@@")
_CHROOT_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"

Log = Callable[[str], None]


class SandboxError(RuntimeError):
    """Raised with a message meant for the person running the sandbox."""


def _stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------
# Settings and results
# ------------------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """The cached root: ``$MEDLYTT_SANDBOX_CACHE`` or ``${XDG_CACHE_HOME:-~/.cache}/...``."""
    env = os.environ.get("MEDLYTT_SANDBOX_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "medlytt" / "asterisk-root"


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
class RootInfo:
    """The cached Debian root and what is in it."""

    path: Path
    suite: str
    version: str
    bootstrap_seconds: float
    size_bytes: int
    built_at: str
    reused: bool


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


@dataclass(frozen=True)
class QueueLogLine:
    """One ``time|callid|queue|agent|event|data...`` line of Asterisk's queue_log."""

    time: int
    callid: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...] = field(default=())

    @classmethod
    def parse(cls, line: str) -> QueueLogLine | None:
        """Parse a line; None for a line that is not a queue_log record."""
        parts = line.rstrip("\r\n").split("|")
        if len(parts) < 5 or not parts[0].isdigit():
            return None
        return cls(int(parts[0]), parts[1], parts[2], parts[3], parts[4], tuple(parts[5:]))

    def field_int(self, index: int) -> int:
        """``data[index]`` as an int (holdtime, talktime, waittime, ...)."""
        return int(self.data[index])


# ------------------------------------------------------------------------------------------
# Mounts and processes (host side)
# ------------------------------------------------------------------------------------------


def _unescape_mountinfo(text: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def mount_points() -> list[Path]:
    """Every mount point of this mount namespace, from /proc/self/mountinfo."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if len(fields) > 4:
            points.append(Path(_unescape_mountinfo(fields[4])))
    return points


def mounts_under(path: Path) -> list[Path]:
    """Mount points strictly inside ``path``, deepest first (the order to unmount them)."""
    path = Path(os.path.abspath(path))
    found = [m for m in mount_points() if path in m.parents]
    return sorted(set(found), key=lambda m: len(m.parts), reverse=True)


def _unmount(path: Path) -> None:
    """Unmount, falling back to a lazy unmount when something still holds the mount."""
    result = subprocess.run(["umount", str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, text=True)
    if path in mount_points():
        raise SandboxError(f"could not unmount {path}: {result.stderr.strip()}")


def _unmount_all_under(path: Path) -> None:
    for point in mounts_under(path):
        _unmount(point)


def processes_in_root(root: Path) -> list[int]:
    """Pids of processes chrooted into ``root`` (their /proc/PID/root points there)."""
    root_s = os.path.abspath(root)
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            target = os.readlink(f"/proc/{entry.name}/root")
        except OSError:
            continue
        if target == root_s or target.startswith(root_s + "/"):
            pids.append(int(entry.name))
    return pids


def _pid_alive(pid: int) -> bool:
    """True for a live process; a zombie (exited, not yet reaped) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _kill_tree(root: Path) -> None:
    """SIGKILL whatever still runs inside ``root`` (used only on a root being discarded)."""
    for pid in processes_in_root(root):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _remove_tree(path: Path) -> None:
    """Delete a (partial) root, but never through a bind mount of the host's /dev or /proc."""
    if not path.exists():
        return
    _kill_tree(path)
    _unmount_all_under(path)
    if mounts_under(path):
        raise SandboxError(f"refusing to delete {path}: still has mounts {mounts_under(path)}")
    shutil.rmtree(path, ignore_errors=True)


LOCK_TIMEOUT = 900.0
"""Longest wait for another process's sandbox operation (a bootstrap takes about a minute)."""


@contextlib.contextmanager
def _locked(root: Path, log: Log = _stderr_log) -> Iterator[None]:
    """One lock per cached root, serialising bootstrap, mounting and unmounting.

    Not re-entrant: flock locks of two descriptors of one process conflict, so callers
    take it at the top level only. The holder writes its pid into the lock file so that a
    waiting process can say whom it waits for.
    """
    root.parent.mkdir(parents=True, exist_ok=True)
    lock_path = root.with_name(root.name + ".lock")
    with open(lock_path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            log(f"waiting for another sandbox operation on {root} (pid {holder}, {lock_path})")
            deadline = time.monotonic() + LOCK_TIMEOUT
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise SandboxError(
                            f"{lock_path} is still held by pid {holder} after {LOCK_TIMEOUT:.0f} s"
                        ) from None
                    time.sleep(0.2)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _require_root() -> None:
    if os.geteuid() != 0:
        raise SandboxError(
            "the Asterisk sandbox needs root: it bootstraps a Debian root with debootstrap, "
            "bind-mounts /proc and /dev into it and runs Asterisk with chroot "
            "(run it with sudo, or as root in CI)"
        )


# ------------------------------------------------------------------------------------------
# Bootstrap: the cached Debian root with Asterisk 22
# ------------------------------------------------------------------------------------------


def _tail(path: Path, lines: int = 30, offset: int = 0) -> str:
    """The last ``lines`` lines of a log file, reading only what follows ``offset``."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            text = handle.read().decode(errors="replace")
    except OSError:
        return f"(no {path})"
    return "\n".join(text.strip("\n").splitlines()[-lines:])


def _ensure_debootstrap(log: Log) -> str:
    """Path of debootstrap, installing Debian 12's package when missing and we are root."""
    found = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if os.access("/usr/sbin/debootstrap", os.X_OK) else None
    )
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SandboxError(
            "debootstrap is not installed; install it (as root: apt-get install -y debootstrap)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "debootstrap"]
    log("debootstrap is missing: apt-get install -y debootstrap")
    result = subprocess.run(install, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        log("install failed; running apt-get update first")
        subprocess.run(["apt-get", "update"], capture_output=True, text=True, env=env)
        result = subprocess.run(install, capture_output=True, text=True, env=env)
    found = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if os.access("/usr/sbin/debootstrap", os.X_OK) else None
    )
    if result.returncode != 0 or not found:
        raise SandboxError("could not install debootstrap with apt-get:\n" + result.stderr[-2000:])
    return found


def _run_debootstrap(debootstrap: str, suite: str, target: Path, log_path: Path) -> bool:
    """Run debootstrap into ``target``, appending its output to ``log_path``."""
    command = [
        debootstrap,
        "--variant=minbase",
        "--include=" + ",".join(PACKAGES),
        suite,
        str(target),
    ]
    env = {"PATH": _CHROOT_PATH, "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"}
    with open(log_path, "ab") as out:
        out.write(f"\n=== {datetime.now(UTC).isoformat()} {' '.join(command)}\n".encode())
        out.flush()
        result = subprocess.run(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env
        )
    return result.returncode == 0


def _asterisk_version(root: Path) -> str:
    """``asterisk -V`` inside ``root``, e.g. ``22.10.1~dfsg+~cs6.15.60671435-1``."""
    result = subprocess.run(
        ["chroot", str(root), "asterisk", "-V"],
        capture_output=True,
        text=True,
        env={"PATH": _CHROOT_PATH, "LANG": "C.UTF-8"},
        timeout=30,
    )
    out = result.stdout.strip()
    if result.returncode != 0 or not out.startswith("Asterisk "):
        raise SandboxError(f"`asterisk -V` failed in {root}: {result.stderr.strip() or out}")
    return out.removeprefix("Asterisk ").strip()


def _tree_size(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def _read_marker(root: Path, *, reused: bool) -> RootInfo:
    data = json.loads((root / ROOT_MARKER).read_text())
    return RootInfo(
        path=root,
        suite=data["suite"],
        version=data["version"],
        bootstrap_seconds=data["bootstrap_seconds"],
        size_bytes=data["size_bytes"],
        built_at=data["built_at"],
        reused=reused,
    )


def _cleanup_stale_builds(root: Path, log: Log) -> None:
    """Remove build folders left by a bootstrap that was killed (we hold the lock)."""
    for stale in root.parent.glob(root.name + ".build-*"):
        if stale.is_dir():
            log(f"removing a half-built root left behind: {stale}")
            _remove_tree(stale)


def ensure_root(cache_dir: Path | None = None, log: Log = _stderr_log) -> RootInfo:
    """Return the cached root, bootstrapping it first when it does not exist.

    The root is built in a temporary folder next to the cache and renamed into place only
    after Asterisk answers ``asterisk -V`` inside it, so a half-built root is never reused.
    """
    _require_root()
    root = Path(os.path.realpath(cache_dir or default_cache_dir()))
    with _locked(root, log):
        if (root / ROOT_MARKER).is_file():
            info = _read_marker(root, reused=True)
            log(f"reusing cached Asterisk root {root} (Asterisk {info.version}, {info.suite})")
            return info
        if root.exists() and any(root.iterdir()):
            raise SandboxError(
                f"{root} exists but is not a complete sandbox root (no {ROOT_MARKER}); "
                "remove it (make sure nothing is mounted inside) or choose another cache dir"
            )
        _cleanup_stale_builds(root, log)
        debootstrap = _ensure_debootstrap(log)
        log_path = root.with_name(root.name + ".bootstrap.log")
        failures: list[str] = []
        for suite in SUITES:
            build = Path(tempfile.mkdtemp(prefix=root.name + ".build-", dir=root.parent))
            build.chmod(0o755)
            log(f"bootstrapping Debian {suite} with {', '.join(PACKAGES)} into {build}")
            log(f"(takes about a minute; progress in {log_path})")
            started = time.monotonic()
            log_offset = log_path.stat().st_size if log_path.exists() else 0
            try:
                if not _run_debootstrap(debootstrap, suite, build, log_path):
                    tail = _tail(log_path, 15, offset=log_offset)
                    failures.append(f"{suite}: debootstrap failed:\n{tail}")
                    continue
                _kill_tree(build)
                _unmount_all_under(build)
                version = _asterisk_version(build)
                if not version.startswith(REQUIRED_MAJOR + "."):
                    failures.append(f"{suite}: has Asterisk {version}, not {REQUIRED_MAJOR}")
                    continue
                seconds = round(time.monotonic() - started, 1)
                with contextlib.suppress(OSError):
                    shutil.rmtree(build / "var" / "cache" / "apt" / "archives", True)
                    (build / "var" / "cache" / "apt" / "archives" / "partial").mkdir(
                        parents=True, exist_ok=True
                    )
                marker = {
                    "suite": suite,
                    "version": version,
                    "bootstrap_seconds": seconds,
                    "size_bytes": _tree_size(build),
                    "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "packages": list(PACKAGES),
                }
                (build / ROOT_MARKER).write_text(json.dumps(marker, indent=2) + "\n")
                if root.exists():
                    root.rmdir()  # an empty folder someone created; checked above
                os.rename(build, root)
                build = root
                info = _read_marker(root, reused=False)
                log(
                    f"bootstrapped Asterisk {version} from Debian {suite} in {seconds} s "
                    f"({info.size_bytes / 1e6:.0f} MB) at {root}"
                )
                return info
            except SandboxError as exc:
                failures.append(f"{suite}: {exc}")
            finally:
                if build != root:
                    _remove_tree(build)
        raise SandboxError(
            f"could not get Asterisk {REQUIRED_MAJOR} from Debian suite "
            + " nor ".join(repr(s) for s in SUITES)
            + ":\n"
            + "\n".join(failures)
        )


# ------------------------------------------------------------------------------------------
# Config rendering
# ------------------------------------------------------------------------------------------


def _debian_directories(root: Path) -> dict[str, str]:
    """Module/data/varlib folders from the root's own asterisk.conf (they differ by arch)."""
    found = {
        "astmoddir": "/usr/lib/x86_64-linux-gnu/asterisk/modules",
        "astdatadir": "/usr/share/asterisk",
        "astvarlibdir": "/var/lib/asterisk",
    }
    with contextlib.suppress(OSError):
        for line in (root / "etc" / "asterisk" / "asterisk.conf").read_text().splitlines():
            match = re.match(r"\s*(ast\w+dir)\s*=>?\s*(\S+)", line)
            if match and match.group(1) in found:
                found[match.group(1)] = match.group(2)
    if not (root / found["astmoddir"].lstrip("/")).is_dir():
        candidates = sorted(root.glob("usr/lib/*/asterisk/modules")) + sorted(
            root.glob("usr/lib/asterisk/modules")
        )
        if candidates:
            found["astmoddir"] = "/" + str(candidates[0].relative_to(root))
    return found


def _fmt_seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def render_config(values: dict[str, str]) -> dict[str, str]:
    """Fill every template of ``sandbox_conf/`` with ``values`` (``@@NAME@@`` placeholders).

    ``@@...@@`` rather than ``${...}`` because Asterisk's dialplan uses ``${...}`` itself.
    An unknown placeholder is an error, not a silently broken config.
    """
    rendered = {}
    for template in sorted(CONF_DIR.iterdir()):
        if template.suffix != ".conf":
            continue
        text = template.read_text()
        missing = sorted({m for m in _PLACEHOLDER_RE.findall(text) if m not in values})
        if missing:
            raise SandboxError(f"{template.name}: no value for {', '.join(missing)}")
        rendered[template.name] = _PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], text)
    return rendered


SECRET_FILES = frozenset({"ari.conf", "manager.conf", "pjsip.conf"})


# ------------------------------------------------------------------------------------------
# Small blocking clients (stdlib only)
# ------------------------------------------------------------------------------------------


def free_ports() -> tuple[int, int, int]:
    """Two free TCP ports (ARI/HTTP, AMI) and a free UDP port (SIP) on 127.0.0.1.

    For test sessions and benchmarks that run their own instance beside any other.
    """
    with contextlib.ExitStack() as stack:
        ports = []
        for kind in (socket.SOCK_STREAM, socket.SOCK_STREAM, socket.SOCK_DGRAM):
            sock = stack.enter_context(socket.socket(socket.AF_INET, kind))
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
    return ports[0], ports[1], ports[2]


def _port_free(port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def ami_banner(port: int, timeout: float = 2.0) -> str:
    """The first line AMI sends on connect, e.g. ``Asterisk Call Manager/11.0.0``."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(256)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n", 1)[0].decode(errors="replace")


class AriClient:
    """The few blocking ARI calls the sandbox needs; credentials go in a header, never a URL."""

    def __init__(self, port: int, user: str, password: str, timeout: float = 5.0) -> None:
        self.base = f"http://127.0.0.1:{port}/ari"
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}", "Accept": "application/json"}
        self.timeout = timeout

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None
        headers = dict(self._headers)
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                payload = resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            raise SandboxError(f"ARI {method} {path}: HTTP {exc.code} {detail}") from None
        return json.loads(payload) if payload else None


# ------------------------------------------------------------------------------------------
# The sandbox
# ------------------------------------------------------------------------------------------


class AsteriskSandbox:
    """One sandbox instance: a chrooted Asterisk with its own config, ports and logs.

    Every method is blocking and safe to call again (``start`` on a running instance
    returns its info, ``stop`` on a stopped one does nothing). Usable from tests::

        sandbox = AsteriskSandbox(SandboxSettings(instance="t1", http_port=28088))
        sandbox.start()
        callid = sandbox.place_call("support", ring=1, talk=2)
        lines = sandbox.wait_for_call(callid)
        sandbox.stop()
    """

    def __init__(self, settings: SandboxSettings, log: Log = _stderr_log) -> None:
        if not _NAME_RE.match(settings.instance):
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
        if _pid_alive(pid) and self.inner_conf in _cmdline(pid):
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
        _require_root()
        current = self.status()
        if current is not None:
            self.log(f"sandbox {self.settings.instance!r} is already running (pid {current.pid})")
            return dataclasses.replace(current, already_running=True)
        root_info = ensure_root(self.root, self.log)
        try:
            with _locked(self.root, self.log):
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
            "RING": _fmt_seconds(s.ring),
            "TALK": _fmt_seconds(s.talk),
            "MAXWAIT": str(int(s.max_wait)),
            **{f"SIP_{p}_PASSWORD": creds[f"sip_{p}_password"] for p in SIP_PHONES},
            **{k.upper(): v for k, v in _debian_directories(self.root).items()},
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
            if not _port_free(port, kind)
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
                env={"PATH": _CHROOT_PATH, "LANG": "C.UTF-8", "HOME": "/root", "TERM": "dumb"},
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
        _require_root()
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
        with _locked(self.root, self.log):
            self._release_mounts(quiet)

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.pid == pid:
                self._proc.poll()  # reap our own child so it does not linger as a zombie
            if not _pid_alive(pid):
                return True
            time.sleep(0.1)
        return not _pid_alive(pid)

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
            if _pid_alive(pid) and f"/{INSTANCES_DIR}/{name}/etc/asterisk.conf" in _cmdline(pid):
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
                _unmount(target)

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
            env={"PATH": _CHROOT_PATH, "LANG": "C.UTF-8", "HOME": "/root", "TERM": "dumb"},
        )
        if result.returncode != 0:
            detail = result.stderr.strip() or result.stdout
            raise SandboxError(f"asterisk -rx {command!r}: {detail}")
        return result.stdout

    def place_call(
        self,
        queue: str,
        *,
        patience: float | None = None,
        ring: float = 1,
        talk: float = 3,
        caller_id: str = '"Medlytt test" <5550100>',
        answer: bool = True,
        max_wait: int | None = None,
        record: bool = False,
    ) -> str:
        """Originate a test caller into ``queue``; return its queue_log callid.

        The caller is ``Local/s@callers/n``: its ``;2`` half enters the queue (its uniqueid,
        returned here, is the queue_log callid) and its ``;1`` half is the caller's phone
        (uniqueid ``phone-CALLID``), which hangs up after ``patience`` seconds if given.
        (Asterisk matches unique ids by prefix, so neither id may be a prefix of the other.)
        Agents ring ``ring`` s, then talk ``talk`` s (or never answer: ``answer=False``);
        ``max_wait`` (whole seconds) is Queue()'s own timeout.
        """
        if not _NAME_RE.match(queue):
            raise SandboxError(f"invalid queue name {queue!r}")
        callid = f"medlytt-{int(time.time())}-{secrets.token_hex(4)}"
        variables = {
            "MEDLYTT_QUEUE": queue,
            "MEDLYTT_CALLERID": caller_id,
            "__MEDLYTT_RING": _fmt_seconds(ring),
            "__MEDLYTT_TALK": _fmt_seconds(talk),
            "__MEDLYTT_ANSWER": "yes" if answer else "no",
        }
        if record:  # caller and agent record what they hear: rx_file(callid, "caller"/"agent")
            variables["__MEDLYTT_RECORD"] = "yes"
            variables["__MEDLYTT_CALLID"] = callid
        if patience is not None:
            variables["MEDLYTT_PATIENCE"] = _fmt_seconds(patience)
        if max_wait is not None:
            variables["MEDLYTT_MAXWAIT"] = str(int(max_wait))
        self.ari().request(
            "POST",
            "/channels",
            {
                "endpoint": "Local/s@callers/n",
                "context": "caller-phone",
                "extension": "s",
                "priority": 1,
                "callerId": caller_id,
                "timeout": 30,
                "channelId": f"phone-{callid}",
                "otherChannelId": callid,
                "variables": variables,
            },
        )
        return callid

    def rx_file(self, name: str, leg: str) -> Path:
        """What a test leg heard: ``leg`` "caller" or "agent" of a call placed with
        ``record=True`` (``name`` its callid), or "supervisor" (``name`` the extension
        after ``sup-`` of ``Local/sup-NAME@supervisor/n``)."""
        rx = self.instance_dir / "spool" / "rx"
        if leg == "caller":
            return rx / f"phone-{name}-rx.wav"
        if leg == "agent":
            return rx / f"{name}-agent-rx.wav"
        return rx / f"sup-{name}-rx.wav"

    def queue_log(self) -> list[QueueLogLine]:
        """Every parsed line of this instance's queue_log (empty before the first call)."""
        try:
            text = self.queue_log_path.read_text(errors="replace")
        except OSError:
            return []
        return [line for line in map(QueueLogLine.parse, text.splitlines()) if line]

    def call_lines(self, callid: str) -> list[QueueLogLine]:
        """The queue_log lines of one call."""
        return [line for line in self.queue_log() if line.callid == callid]

    def wait_for_call(
        self, callid: str, *, events: Sequence[str] | None = None, timeout: float = 30
    ) -> list[QueueLogLine]:
        """Wait until one of ``events`` (default: any call-ending event) is logged for a call.

        Returns the call's lines; raises SandboxError with what was logged on timeout.
        """
        wanted = set(events) if events is not None else TERMINAL_EVENTS
        deadline = time.monotonic() + timeout
        while True:
            lines = self.call_lines(callid)
            if any(line.event in wanted for line in lines):
                return lines
            if time.monotonic() > deadline:
                got = [line.event for line in lines]
                raise SandboxError(f"call {callid}: none of {sorted(wanted)} in {timeout} s: {got}")
            time.sleep(0.1)

    def log_tail(self, lines: int = 40) -> str:
        """The end of Asterisk's console output and messages.log, for error reports."""
        log_dir = self.instance_dir / "log"
        return (
            f"[console.log]\n{_tail(log_dir / 'console.log', lines)}\n"
            f"[messages.log]\n{_tail(log_dir / 'messages.log', lines)}"
        )


def _write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only (it holds passwords)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    path.chmod(0o600)


def asterisk_toml(section: dict[str, Any]) -> str:
    """Render the ``[asterisk]`` section as TOML (strings quoted, ints bare)."""
    lines = ["[asterisk]"]
    for key, value in section.items():
        rendered = str(value) if isinstance(value, int) else json.dumps(str(value))
        lines.append(f"{key} = {rendered}")
    return "\n".join(lines) + "\n"


def destroy_root(cache_dir: Path | None = None, log: Log = _stderr_log) -> None:
    """Stop every instance in the cached root and delete it (the next start re-bootstraps)."""
    _require_root()
    root = Path(os.path.realpath(cache_dir or default_cache_dir()))
    for instance_dir in sorted((root / INSTANCES_DIR).glob("*")):
        if instance_dir.is_dir() and _NAME_RE.match(instance_dir.name):
            AsteriskSandbox(
                SandboxSettings(instance=instance_dir.name, cache_dir=root), log=log
            ).stop(quiet=True)
    with _locked(root, log):
        _remove_tree(root)
        _cleanup_stale_builds(root, log)
    log(f"deleted {root}")


# ------------------------------------------------------------------------------------------
# CLI: `medlytt sandbox ...`
# ------------------------------------------------------------------------------------------


def _settings_from_options(
    instance: str,
    http_port: int | None,
    ami_port: int | None,
    sip_port: int | None,
    cache_dir: Path | None,
) -> SandboxSettings:
    """Explicit options win, then what the instance was last started with, then defaults."""
    settings = SandboxSettings(instance=instance, cache_dir=cache_dir)
    stored = AsteriskSandbox(settings, log=lambda _m: None)._stored("instance.json")
    for key, value in stored.get("ports", {}).items():
        if hasattr(settings, key):
            setattr(settings, key, int(value))
    for key, value in (("http_port", http_port), ("ami_port", ami_port), ("sip_port", sip_port)):
        if value is not None:
            setattr(settings, key, value)
    return settings


def _instance_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--instance",
            default="default",
            show_default=True,
            help="Sandbox name; several can run side by side on different ports.",
        ),
        click.option(
            "--http-port",
            type=int,
            default=None,
            help="ARI/HTTP port on 127.0.0.1 [default: last used, else 18088].",
        ),
        click.option(
            "--ami-port",
            type=int,
            default=None,
            help="AMI port on 127.0.0.1 [default: last used, else 15038].",
        ),
        click.option(
            "--sip-port",
            type=int,
            default=None,
            help="PJSIP UDP port on 127.0.0.1 [default: last used, else 15060].",
        ),
        click.option(
            "--cache-dir",
            type=click.Path(path_type=Path),
            default=None,
            envvar="MEDLYTT_SANDBOX_CACHE",
            help="Cached Debian root [default: ~/.cache/medlytt/asterisk-root].",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _sandbox_for(**options: Any) -> AsteriskSandbox:
    return AsteriskSandbox(_settings_from_options(**options))


@contextlib.contextmanager
def _friendly_errors() -> Iterator[None]:
    try:
        yield
    except SandboxError as exc:
        raise click.ClickException(str(exc)) from None


@click.group("sandbox")
def sandbox() -> None:
    """A real Asterisk 22 with a demo contact center, for trying and testing Medlytt.

    Needs root (debootstrap, bind mounts, chroot). Listens on 127.0.0.1 only.
    """


@sandbox.command("start")
@_instance_options
def start_command(**options: Any) -> None:
    """Start the sandbox (bootstrapping its Debian root once) and print Medlytt's config.

    Progress goes to stderr; the [asterisk] section for Medlytt's config goes to stdout.
    """
    with _friendly_errors():
        info = _sandbox_for(**options).start()
    click.echo(asterisk_toml(info.asterisk_section), nl=False)


@sandbox.command("stop")
@_instance_options
def stop_command(**options: Any) -> None:
    """Stop the sandbox and remove its mounts (when no other instance needs them)."""
    with _friendly_errors():
        box = _sandbox_for(**options)
        was_running = box.status() is not None
        box.stop()
    click.echo("stopped" if was_running else "not running")


@sandbox.command("status")
@_instance_options
def status_command(**options: Any) -> None:
    """Say whether the sandbox runs, with pid, ports and version (exit 3 when stopped)."""
    box = _sandbox_for(**options)
    info = box.status()
    if info is None:
        click.echo(f"sandbox {box.settings.instance!r}: not running")
        if box.instance_dir.is_dir():
            click.echo(f"instance dir: {box.instance_dir}")
        sys.exit(3)
    click.echo(f"sandbox {info.instance!r}: running, pid {info.pid}")
    click.echo(f"asterisk: {info.version} (Debian {info.suite})")
    click.echo(f"ari/http: 127.0.0.1:{info.http_port}")
    click.echo(f"ami: 127.0.0.1:{info.ami_port}")
    click.echo(f"sip (udp): 127.0.0.1:{info.sip_port}")
    click.echo(f"instance dir: {info.instance_dir}")
    click.echo(f"queue_log: {info.queue_log_path}")


@sandbox.command("call")
@click.argument("queue")
@click.option(
    "--patience",
    type=float,
    default=None,
    help="Caller hangs up after S seconds (ABANDON while waiting).",
)
@click.option(
    "--talk",
    type=float,
    default=3,
    show_default=True,
    help="Seconds the agent talks before hanging up.",
)
@click.option(
    "--ring",
    type=float,
    default=1,
    show_default=True,
    help="Seconds an agent rings before answering.",
)
@click.option(
    "--agent-answer/--no-answer",
    default=True,
    show_default=True,
    help="Whether agents answer at all.",
)
@click.option(
    "--max-wait", type=int, default=None, help="Queue() timeout in whole seconds (EXITWITHTIMEOUT)."
)
@click.option("--caller-id", default='"Medlytt test" <5550100>', show_default=True)
@click.option(
    "--wait/--no-wait",
    default=False,
    help="Wait for the call to leave the queue and print its queue_log lines.",
)
@_instance_options
def call_command(
    queue: str,
    patience: float | None,
    talk: float,
    ring: float,
    agent_answer: bool,
    max_wait: int | None,
    caller_id: str,
    wait: bool,
    **options: Any,
) -> None:
    """Place a test call into QUEUE (support, sales) and print its queue_log callid."""
    with _friendly_errors():
        box = _sandbox_for(**options)
        if box.status() is None:
            raise SandboxError(f"sandbox {box.settings.instance!r} is not running")
        callid = box.place_call(
            queue,
            patience=patience,
            ring=ring,
            talk=talk,
            caller_id=caller_id,
            answer=agent_answer,
            max_wait=max_wait,
        )
        click.echo(f"callid (queue_log, caller channel ;2): {callid}")
        click.echo(f"caller phone channel (;1): phone-{callid}")
        if wait:
            timeout = 60 + ring + talk + (patience or 0) + (max_wait or 0)
            for line in box.wait_for_call(callid, timeout=timeout):
                click.echo(
                    "|".join(
                        [
                            str(line.time),
                            line.callid,
                            line.queue,
                            line.agent,
                            line.event,
                            *line.data,
                        ]
                    )
                )


@sandbox.command("cli")
@click.argument("command")
@_instance_options
def cli_command(command: str, **options: Any) -> None:
    """Run an Asterisk CLI COMMAND in the sandbox (e.g. "queue show support")."""
    with _friendly_errors():
        click.echo(_sandbox_for(**options).cli(command), nl=False)


@sandbox.command("reset")
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Delete the whole cached root too (the next start bootstraps again).",
)
@_instance_options
def reset_command(everything: bool, **options: Any) -> None:
    """Stop the instance and delete its folder (new passwords on the next start)."""
    with _friendly_errors():
        box = _sandbox_for(**options)
        if everything:
            destroy_root(box.root)
        else:
            box.purge()
            click.echo(f"deleted {box.instance_dir}")


if __name__ == "__main__":
    sandbox()
