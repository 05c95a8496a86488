"""``medlytt sandbox start|stop|status|call|cli|reset``: the sandbox from the command line."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from .calls import place_call, wait_for_call
from .config import walkthrough_toml
from .instance import AsteriskSandbox, SandboxSettings, destroy_root
from .messages import SandboxError


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

    Progress goes to stderr; stdout gets a complete config for Medlytt: the [asterisk]
    section with the agents' names, [mystery_calls] and [surveys] (docs/asterisk-sandbox.md).
    """
    with _friendly_errors():
        info = _sandbox_for(**options).start()
    click.echo(walkthrough_toml(info.asterisk_section, info.instance), nl=False)


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
        callid = place_call(
            box,
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
            for line in wait_for_call(box, callid, timeout=timeout):
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
