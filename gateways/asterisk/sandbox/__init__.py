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
of Medlytt is installed, and can even be run as ``python -m medlytt.gateways.asterisk.sandbox``.

One concern a module: ``root`` (the cached Debian root), ``host`` (mounts, processes, the
root's lock), ``config`` (rendering ``sandbox_conf/``), ``ports``, ``ari_client`` (a
blocking ARI client), ``instance`` (start/stop/status of one instance), ``queue_log``,
``calls`` (test calls, as ``medlytt sandbox call`` places them) and ``cli``. What only the
tests use to inspect calls lives next to them, in ``tests/asterisk/driver.py``.
"""

from __future__ import annotations

from .ari_client import AriClient
from .calls import call_lines, place_call, wait_for_call
from .cli import sandbox
from .config import asterisk_toml, render_config
from .host import mounts_under, processes_in_root
from .instance import AsteriskSandbox, SandboxInfo, SandboxSettings, destroy_root
from .messages import SandboxError
from .ports import ami_banner, free_ports
from .queue_log import TERMINAL_EVENTS, QueueLogLine
from .root import ROOT_MARKER, RootInfo, default_cache_dir, ensure_root

__all__ = [
    "ROOT_MARKER",
    "TERMINAL_EVENTS",
    "AriClient",
    "AsteriskSandbox",
    "QueueLogLine",
    "RootInfo",
    "SandboxError",
    "SandboxInfo",
    "SandboxSettings",
    "ami_banner",
    "asterisk_toml",
    "call_lines",
    "default_cache_dir",
    "destroy_root",
    "ensure_root",
    "free_ports",
    "mounts_under",
    "place_call",
    "processes_in_root",
    "render_config",
    "sandbox",
    "wait_for_call",
]
