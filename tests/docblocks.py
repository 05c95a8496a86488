"""Run the command blocks of a Markdown document exactly as printed: the docs' doc-test.

Every fenced block marked ``sh``, ``bash`` or ``console`` is a list of commands a reader
types; they run in order, each block in its own ``bash -euo pipefail`` in one folder that
stands for a fresh clone (``.venv`` linked to this checkout's, ``Makefile`` and
``pyproject.toml`` beside it), sharing exported variables and the current folder from block
to block as one shell would.  A command that fails, a pipeline whose ``grep`` finds nothing,
fails the doc-test and names the block (``README.md:88``) with its output.

What a reader does by hand between commands is said in an HTML comment right before the
block, never by editing the commands::

    <!-- doctest: background="make run" wait="http://127.0.0.1:8470/healthz" -->

==============  =====================================================================
``skip``        do not run the block; the value says why (required)
``skip-line``   do not run the lines starting with this (``why`` says why, required)
``background``  run the lines starting with this in the background (a server), output
                to a log, and stop them when a later block says ``stop`` or at the end
``wait``        after the background lines have started, wait until this URL answers 200
``wait-until``  ... or until this shell command succeeds
``stop``        ``background``: first stop the servers earlier blocks started (Ctrl-C)
``expect``      the block's output must contain this text
``phone``       a softphone registered as this sandbox phone answers calls (tests/asterisk)
``timeout``     seconds the block may take (default 300)
==============  =====================================================================
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support import ROOT, medlytt_env

RUN_LANGUAGES = frozenset({"sh", "bash", "console"})
KNOWN = frozenset(
    {
        "skip",
        "skip-line",
        "why",
        "background",
        "wait",
        "wait-until",
        "stop",
        "expect",
        "phone",
        "timeout",
    }
)
DEFAULT_TIMEOUT = 300.0
WAIT_SECONDS = 120
_FENCE = re.compile(r"^```\s*([\w-]*)\s*$")
_DIRECTIVE = re.compile(r"^<!--\s*doctest:(.*?)-->\s*$")
_PAIR = re.compile(r'([a-z][a-z-]*)="((?:[^"\\]|\\.)*)"')


#: The port every README example uses (the default of [server] port).
README_PORT = 8470


def require_free_port() -> None:
    """The examples talk to 127.0.0.1:8470: another server there would answer them."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", README_PORT))
        except OSError:
            pytest.fail(
                f"port {README_PORT} is in use: the README's examples serve and call Medlytt "
                "there; stop what listens on it",
                pytrace=False,
            )


class DocTestError(AssertionError):
    """A block failed, or a directive is wrong; the message names the block."""


@dataclass
class Block:
    """One fenced block of a document, with the doctest directives written before it."""

    path: Path
    line: int
    language: str
    code: str
    directives: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.language in RUN_LANGUAGES and "skip" not in self.directives


def parse(path: Path) -> list[Block]:
    """Every fenced block of ``path``; a bad directive raises :class:`DocTestError`."""
    lines = path.read_text().splitlines()
    blocks: list[Block] = []
    pending: tuple[int, dict[str, str]] | None = None
    index = 0
    while index < len(lines):
        text = lines[index]
        directive = _DIRECTIVE.match(text.strip())
        fence = _FENCE.match(text)
        if directive:
            pending = (index + 1, _directives(directive.group(1), f"{path.name}:{index + 1}"))
        elif fence:
            end = index + 1
            while end < len(lines) and not lines[end].startswith("```"):
                end += 1
            found = pending[1] if pending else {}
            blocks.append(
                Block(path, index + 1, fence.group(1), "\n".join(lines[index + 1 : end]), found)
            )
            if found and fence.group(1) not in RUN_LANGUAGES:
                raise DocTestError(
                    f"{path.name}:{index + 1}: a doctest directive on a block "
                    f"that is not sh/bash/console ({fence.group(1) or 'none'})"
                )
            pending = None
            index = end
        elif text.strip() and pending is not None:
            raise DocTestError(
                f"{path.name}:{pending[0]}: a doctest directive must come right before a block"
            )
        index += 1
    return blocks


def _directives(text: str, where: str) -> dict[str, str]:
    pairs = {key: value.replace('\\"', '"') for key, value in _PAIR.findall(text)}
    leftover = _PAIR.sub("", text).strip()
    if leftover:
        raise DocTestError(f"{where}: cannot read doctest directive near {leftover[:40]!r}")
    unknown = sorted(set(pairs) - KNOWN)
    if unknown:
        raise DocTestError(
            f"{where}: unknown doctest directive {unknown[0]!r} (known: {', '.join(sorted(KNOWN))})"
        )
    if "skip" in pairs and not pairs["skip"].strip():
        raise DocTestError(f"{where}: skip needs a reason")
    if "skip-line" in pairs and not pairs.get("why", "").strip():
        raise DocTestError(f'{where}: skip-line needs why="..."')
    return pairs


def commands(block: Block) -> list[str]:
    """The block's commands as a reader types them (a ``console`` block: the ``$`` lines),
    continuation lines joined."""
    raw = block.code.splitlines()
    if block.language == "console":
        typed: list[str] = []
        continuing = False
        for line in raw:
            if line.startswith("$ ") or continuing:
                typed.append(line[2:] if line.startswith("$ ") else line)
                continuing = line.rstrip().endswith("\\")
        raw = typed
    logical: list[str] = []
    for line in raw:
        if logical and logical[-1].rstrip().endswith("\\"):
            logical[-1] += "\n" + line
        else:
            logical.append(line)
    return [c for c in logical if c.strip()]


def script(block: Block, logs: Path) -> str:
    """The bash script that runs ``block``: its commands unchanged, with the directives'
    background, skipped lines and waits around them."""
    d = block.directives
    out: list[str] = []
    for number, command in enumerate(commands(block)):
        stripped = command.strip()
        if "skip-line" in d and stripped.startswith(d["skip-line"]):
            out.append(f": doctest skips {shlex.quote(stripped)}")
            continue
        if "background" in d and stripped.startswith(d["background"]):
            log = logs / f"{block.line}-{number}.log"
            out.append(f"{{ {command}\n}} > {shlex.quote(str(log))} 2>&1 < /dev/null &")
            out.extend(_waits(d, log))
            continue
        out.append(command)
    return "\n".join(out) + "\n"


def _waits(d: dict[str, str], log: Path) -> list[str]:
    checks = []
    if "wait" in d:
        checks.append(f"curl -sf -o /dev/null {shlex.quote(d['wait'])}")
    if "wait-until" in d:
        checks.append(f"( {d['wait-until']} ) > /dev/null 2>&1")
    if not checks:
        return []
    ready = " && ".join(checks)
    return [
        f"for _ in $(seq {WAIT_SECONDS * 5}); do {ready} && break; sleep 0.2; done",
        f"{ready} || {{ echo 'doctest: not ready after {WAIT_SECONDS} s; its log:' >&2; "
        f"cat {shlex.quote(str(log))} >&2; exit 1; }}",
    ]


class Runner:
    """Runs documents' blocks in a folder of their own, like a reader in a fresh clone."""

    def __init__(self, folder: Path, hooks: dict[str, Callable[[str], None]] | None = None):
        self.folder = folder
        self.clone = folder / "clone"
        self.logs = folder / "logs"
        self.home = folder / "home"
        for path in (self.clone, self.logs, self.home):
            path.mkdir(parents=True, exist_ok=True)
        (self.clone / ".venv").symlink_to(ROOT / ".venv")
        (self.clone / "Makefile").write_text((ROOT / "Makefile").read_text())
        (self.clone / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
        # make's stamp must stay newer than pyproject.toml: `make run` must not reinstall.
        stamp = (ROOT / ".venv" / "bin" / ".installed").stat().st_mtime
        os.utime(self.clone / "pyproject.toml", (stamp - 60, stamp - 60))
        self.env_file = folder / "env.sh"
        self.env_file.write_text("")
        self.cwd_file = folder / "cwd"
        self.cwd_file.write_text(str(self.clone))
        self.groups: list[int] = []
        #: Directive hooks of the caller (``phone``): called with the directive's value.
        self.hooks = hooks or {}
        self.ran: list[str] = []

    def environment(self) -> dict[str, str]:
        from medlytt.gateways.asterisk.sandbox import default_cache_dir

        env = medlytt_env(HOME=str(self.home))
        env["PATH"] = os.pathsep.join([str(ROOT / ".venv" / "bin"), env.get("PATH", "")])
        env["MEDLYTT_SANDBOX_CACHE"] = str(default_cache_dir())  # HOME moved; the root did not
        return env

    def run_document(self, path: Path) -> list[Block]:
        """Run every runnable block of ``path`` in order; the blocks that ran."""
        ran = [block for block in parse(path) if block.runs]
        for block in ran:
            self.run_block(block)
        return ran

    def run_block(self, block: Block) -> str:
        d = block.directives
        if d.get("stop") == "background":
            self.stop_background()
        for key, hook in self.hooks.items():
            if key in d:
                hook(d[key])
        output = self.logs / f"{block.line}.out"
        body = script(block, self.logs)
        wrapper = (
            "set -euo pipefail\n"
            f"source {shlex.quote(str(self.env_file))}\n"
            f'cd "$(cat {shlex.quote(str(self.cwd_file))})"\n'
            + body
            + f"export -p > {shlex.quote(str(self.env_file))}\n"
            + f"pwd > {shlex.quote(str(self.cwd_file))}\n"
        )
        timeout = float(d.get("timeout", DEFAULT_TIMEOUT))
        with output.open("w") as out:
            proc = subprocess.Popen(
                ["bash", "--noprofile", "--norc", "-c", wrapper],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.environment(),
                start_new_session=True,
            )
            self.groups.append(proc.pid)
            try:
                status = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._kill(proc.pid)
                status = None
        text = output.read_text(errors="replace")
        self.ran.append(block.where)
        if status != 0:
            why = f"timed out after {timeout:g} s" if status is None else f"exit status {status}"
            raise DocTestError(
                f"{block.where}: {why}\n--- the block ---\n{block.code}\n"
                f"--- its output ---\n{text[-6000:]}"
            )
        if "expect" in d and d["expect"] not in text:
            raise DocTestError(
                f"{block.where}: output lacks {d['expect']!r}\n--- the block ---\n"
                f"{block.code}\n--- its output ---\n{text[-6000:]}"
            )
        return text

    def stop_background(self) -> None:
        """Stop what the blocks so far left running (a reader's Ctrl-C), and wait for it."""
        for group in self.groups:
            self._kill(group)
        self.groups = []

    @staticmethod
    def _kill(group: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)


@contextlib.contextmanager
def runner(folder: Path, hooks: dict[str, Callable[[str], None]] | None = None) -> Iterator[Runner]:
    run = Runner(folder, hooks)
    try:
        yield run
    finally:
        run.stop_background()
