"""The host side of a chroot: mount points, processes inside a root, and the root's lock.

Everything here reads ``/proc`` or runs ``mount``/``umount``; it knows nothing of Asterisk.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from .messages import Log, SandboxError, stderr_log


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


def unmount(path: Path) -> None:
    """Unmount, falling back to a lazy unmount when something still holds the mount."""
    result = subprocess.run(["umount", str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, text=True)
    if path in mount_points():
        raise SandboxError(f"could not unmount {path}: {result.stderr.strip()}")


def unmount_all_under(path: Path) -> None:
    for point in mounts_under(path):
        unmount(point)


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


def pid_alive(pid: int) -> bool:
    """True for a live process; a zombie (exited, not yet reaped) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def kill_tree(root: Path) -> None:
    """SIGKILL whatever still runs inside ``root`` (used only on a root being discarded)."""
    for pid in processes_in_root(root):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def remove_tree(path: Path) -> None:
    """Delete a (partial) root, but never through a bind mount of the host's /dev or /proc."""
    if not path.exists():
        return
    kill_tree(path)
    unmount_all_under(path)
    if mounts_under(path):
        raise SandboxError(f"refusing to delete {path}: still has mounts {mounts_under(path)}")
    shutil.rmtree(path, ignore_errors=True)


LOCK_TIMEOUT = 900.0
"""Longest wait for another process's sandbox operation (a bootstrap takes about a minute)."""


@contextlib.contextmanager
def locked(root: Path, log: Log = stderr_log) -> Iterator[None]:
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


def require_root() -> None:
    if os.geteuid() != 0:
        raise SandboxError(
            "the Asterisk sandbox needs root: it bootstraps a Debian root with debootstrap, "
            "bind-mounts /proc and /dev into it and runs Asterisk with chroot "
            "(run it with sudo, or as root in CI)"
        )
