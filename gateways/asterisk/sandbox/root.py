"""The cached Debian root with Asterisk 22, bootstrapped once with debootstrap.

Debian 12 has no Asterisk and installing sid packages on the host would drag in a newer
libc, so Asterisk runs chrooted into a separate root of suite ``sid`` (else ``testing``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .host import kill_tree, locked, remove_tree, require_root, unmount_all_under
from .messages import Log, SandboxError, stderr_log, tail

SUITES: tuple[str, ...] = ("sid", "testing")
"""Debian suites tried in order; both had Asterisk 22 when this was written."""
PACKAGES: tuple[str, ...] = ("asterisk", "asterisk-modules", "asterisk-core-sounds-en-wav")
REQUIRED_MAJOR = "22"
"""Medlytt is written against Asterisk 22's ARI/AMI; a suite with another major is skipped."""
ROOT_MARKER = ".medlytt-root.json"
"""Written last into a finished root: suite, Asterisk version, build time and size."""
CHROOT_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
"""PATH of every command run inside the root."""


def default_cache_dir() -> Path:
    """The cached root: ``$MEDLYTT_SANDBOX_CACHE`` or ``${XDG_CACHE_HOME:-~/.cache}/...``."""
    env = os.environ.get("MEDLYTT_SANDBOX_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "medlytt" / "asterisk-root"


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
    env = {"PATH": CHROOT_PATH, "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"}
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
        env={"PATH": CHROOT_PATH, "LANG": "C.UTF-8"},
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


def cleanup_stale_builds(root: Path, log: Log) -> None:
    """Remove build folders left by a bootstrap that was killed (we hold the lock)."""
    for stale in root.parent.glob(root.name + ".build-*"):
        if stale.is_dir():
            log(f"removing a half-built root left behind: {stale}")
            remove_tree(stale)


def ensure_root(cache_dir: Path | None = None, log: Log = stderr_log) -> RootInfo:
    """Return the cached root, bootstrapping it first when it does not exist.

    The root is built in a temporary folder next to the cache and renamed into place only
    after Asterisk answers ``asterisk -V`` inside it, so a half-built root is never reused.
    """
    require_root()
    root = Path(os.path.realpath(cache_dir or default_cache_dir()))
    with locked(root, log):
        if (root / ROOT_MARKER).is_file():
            info = _read_marker(root, reused=True)
            log(f"reusing cached Asterisk root {root} (Asterisk {info.version}, {info.suite})")
            return info
        if root.exists() and any(root.iterdir()):
            raise SandboxError(
                f"{root} exists but is not a complete sandbox root (no {ROOT_MARKER}); "
                "remove it (make sure nothing is mounted inside) or choose another cache dir"
            )
        cleanup_stale_builds(root, log)
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
                    log_end = tail(log_path, 15, offset=log_offset)
                    failures.append(f"{suite}: debootstrap failed:\n{log_end}")
                    continue
                kill_tree(build)
                unmount_all_under(build)
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
                    remove_tree(build)
        raise SandboxError(
            f"could not get Asterisk {REQUIRED_MAJOR} from Debian suite "
            + " nor ".join(repr(s) for s in SUITES)
            + ":\n"
            + "\n".join(failures)
        )
