"""``medlytt monitor``: a terminal console for listening to, whispering in or barging into a call.

It talks to a running Medlytt over the HTTP API (``/api/monitor``, see docs/monitoring.md),
so it works from any machine that reaches the server.  After starting the session it reads
one command per line from standard input::

    l, listen    w, whisper    b, barge    q, quit (or end of input)    h, help

and every 2 s it asks the server whether the session still exists, so a call that ends or a
supervisor who hangs up ends the console too.  Quitting, end of input, Ctrl-C, SIGTERM and
SIGHUP all stop the session (``DELETE``) before exiting.

Exit status: 0 when the session was stopped or ended on the server, 1 when the server
refused a request or cannot be reached, 2 for usage errors, 130 after Ctrl-C.
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any

import click
from medlytt import Api, ApiError, Unreachable, fail, token_option, url_option

from .events import MonitorMode

POLL_SECONDS = 2.0
#: Starting a session waits for the supervisor's phone to be answered
#: (``[monitoring] answer_timeout_seconds``, at most 120 s).
START_TIMEOUT = 130.0
COMMANDS = {
    "l": "listen",
    "listen": "listen",
    "w": "whisper",
    "whisper": "whisper",
    "b": "barge",
    "barge": "barge",
    "q": "quit",
    "quit": "quit",
    "h": "help",
    "help": "help",
    "?": "help",
}
HELP = "commands: l(isten)  w(hisper)  b(arge)  q(uit)  h(elp); end of input or Ctrl-C quits"
WHO_HEARS = {
    "listen": "nobody hears you",
    "whisper": "only the agent hears you",
    "barge": "the agent and the caller hear you",
}


class _Stopped(Exception):
    """Ctrl-C, SIGTERM or SIGHUP arrived."""


@contextmanager
def _signals_stop():
    """Turn SIGINT, SIGTERM and SIGHUP into :class:`_Stopped` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise _Stopped(signal.Signals(signum).name)

    wanted = [signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)]
    previous = {s: signal.signal(s, handler) for s in wanted if s is not None}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _read_lines(stream: Any, lines: queue.Queue[str | None]) -> None:
    """Feed standard input into ``lines``, one command a line; ``None`` marks its end.

    A real file descriptor is read with ``os.read``: a daemon thread blocked there holds no
    Python lock, so exiting while it waits is safe.
    """
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        fd = None
    try:
        if fd is None:
            for line in stream:
                lines.put(line)
        else:
            pending = b""
            while chunk := os.read(fd, 4096):
                pending += chunk
                *complete, pending = pending.split(b"\n")
                for line in complete:
                    lines.put(line.decode(errors="replace"))
            if pending:
                lines.put(pending.decode(errors="replace"))
    except (OSError, ValueError):
        pass
    lines.put(None)


def _describe(session: dict[str, Any]) -> str:
    return (
        f"session {session['id']}: agent {session['agent']}, call {session['call']}, "
        f"mode {session['mode']} ({WHO_HEARS.get(session['mode'], '?')}); "
        f"your phone {session['endpoint']}"
    )


@click.command()
@click.argument("agent")
@click.option(
    "--mode",
    type=click.Choice([m.value for m in MonitorMode]),
    default=MonitorMode.LISTEN.value,
    show_default=True,
    help="listen: nobody hears you; whisper: only the agent; barge: agent and caller.",
)
@click.option(
    "--via",
    "endpoint",
    metavar="ENDPOINT",
    help="Your phone, e.g. PJSIP/2001 (default: the phone of your user).",
)
@url_option
@token_option
@click.option("--record", is_flag=True, help="Ask for the session to be recorded.")
def monitor(
    agent: str, mode: str, endpoint: str | None, url: str, token: str | None, record: bool
) -> None:
    """Monitor AGENT's current call (interface such as PJSIP/1001, or the agent's name).

    Medlytt rings your phone; once you answer you hear the call.  Then type l, w or b
    (and Enter) to switch mode, q to stop.  See docs/monitoring.md.
    """
    api = Api(url, token)
    body: dict[str, Any] = {"agent": agent, "mode": mode}
    if endpoint:
        body["supervisor"] = endpoint
    if record:
        body["record"] = True
    # Said before the request, which returns only once the phone is answered; on stderr, and
    # worded as a request: whether the phone rings is up to the server.
    phone = f" {endpoint}" if endpoint else ""
    click.echo(f"asking Medlytt to ring your phone{phone}; answer it to start", err=True)
    try:
        with _signals_stop():
            session = api.request("POST", "/api/monitor", body, timeout=START_TIMEOUT)
    except _Stopped:
        click.echo(
            "medlytt: interrupted before the session started; if your phone still rings, "
            "do not answer it (or hang up: that ends the session)",
            err=True,
        )
        sys.exit(130)
    except (ApiError, Unreachable) as exc:
        fail(exc, bool(token))
    click.echo(_describe(session))
    click.echo(HELP)
    sys.exit(_console(api, session["id"]))


def _console(api: Api, session_id: str) -> int:
    """Run commands until quit, end of input, a signal or the session ending; the exit status."""
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_read_lines, args=(sys.stdin, lines), daemon=True).start()
    try:
        with _signals_stop():
            return _loop(api, session_id, lines)
    except _Stopped as stop:
        click.echo(f"{stop}: stopping session {session_id}", err=True)
        status = _stop(api, session_id)
        return 130 if status == 0 and str(stop) == "SIGINT" else status


def _loop(api: Api, session_id: str, lines: queue.Queue[str | None]) -> int:
    next_poll = time.monotonic() + POLL_SECONDS
    while True:
        try:
            line = lines.get(timeout=max(0.0, next_poll - time.monotonic()))
        except queue.Empty:
            next_poll = time.monotonic() + POLL_SECONDS
            ended = _still_there(api, session_id)
            if ended is not None:
                return ended
            continue
        if line is None:
            return _stop(api, session_id)
        word = line.strip().lower()
        if not word:
            continue
        command = COMMANDS.get(word)
        if command is None:
            click.echo(f"unknown command {word!r}; {HELP}")
        elif command == "help":
            click.echo(HELP)
        elif command == "quit":
            return _stop(api, session_id)
        else:
            try:
                session = api.request("PATCH", f"/api/monitor/{session_id}", {"mode": command})
            except ApiError as exc:
                if exc.status == 404:
                    return _ended(session_id)
                click.echo(f"medlytt: {exc}", err=True)
                if exc.status in (401, 403):
                    return 1
                continue  # e.g. 502: Asterisk refused; the session goes on in its old mode
            except Unreachable as exc:
                click.echo(f"medlytt: {exc}", err=True)
                continue
            click.echo(f"mode {session['mode']} ({WHO_HEARS.get(session['mode'], '?')})")


def _still_there(api: Api, session_id: str) -> int | None:
    """``None`` while the session exists on the server, else the exit status to end with."""
    try:
        data = api.request("GET", "/api/monitor")
    except Unreachable as exc:
        click.echo(f"medlytt: {exc} (still trying)", err=True)
        return None
    except ApiError as exc:
        click.echo(f"medlytt: {exc}", err=True)
        return 1 if exc.status in (401, 403) else None
    if any(s.get("id") == session_id for s in data.get("sessions", [])):
        return None
    return _ended(session_id)


def _ended(session_id: str) -> int:
    click.echo(
        f"session {session_id} ended on the server "
        "(the call ended, your phone hung up, or someone stopped it)"
    )
    return 0


def _stop(api: Api, session_id: str) -> int:
    try:
        api.request("DELETE", f"/api/monitor/{session_id}")
    except ApiError as exc:
        if exc.status == 404:
            return _ended(session_id)
        click.echo(f"medlytt: cannot stop session {session_id}: {exc}", err=True)
        return 1
    except Unreachable as exc:
        click.echo(f"medlytt: cannot stop session {session_id}: {exc}", err=True)
        return 1
    click.echo(f"stopped session {session_id}")
    return 0


if __name__ == "__main__":  # python -m medlytt.plugins.monitoring.cli, before it is registered
    monitor(prog_name="medlytt monitor")
