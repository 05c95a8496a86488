"""``medlytt keys`` and ``medlytt desk``."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path

import click
import zmq

from .keys import KeyFileError, make_key_pair


@click.command("keys")
@click.argument("name")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder for NAME.key (public) and NAME.key_secret (secret), both mode 0600.",
)
@click.option("--force", is_flag=True, help="Replace an existing key pair of that name.")
def keys_command(name: str, folder: Path, force: bool) -> None:
    """Make a CURVE key pair for a desk or for the core's desk receiver.

    Prints the public key (list a desk's in the core's [desk] allowed_keys); the secret
    key is only ever written to NAME.key_secret.
    """
    try:
        public_path, secret_path, public = make_key_pair(folder, name, force=force)
    except (KeyFileError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"public key: {public}")
    click.echo(
        f"wrote {public_path} (public: give it out) and {secret_path} (secret: keep it here)"
    )


@click.command("desk")
@click.option(
    "--core", required=True, help="The core's desk receiver, e.g. tcp://medlytt.example:5570."
)
@click.option("--agent", required=True, help="This desk's agent id, e.g. PJSIP/1001.")
@click.option(
    "--key", required=True, type=click.Path(dir_okay=False), help="This desk's NAME.key_secret."
)
@click.option(
    "--core-key", required=True, type=click.Path(dir_okay=False), help="The core's public key file."
)
@click.option("--baresip", default=None, help="baresip's ctrl_tcp address, e.g. 127.0.0.1:4444.")
@click.option(
    "--headset",
    "headset_match",
    default=None,
    help="Which headset when several are attached: vendor:product (0b0e:), a name or a path.",
)
@click.option(
    "--queue-size",
    default=1000,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="Events kept while the core is away; beyond it the oldest are dropped.",
)
@click.option(
    "--heartbeat",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0.1, 3600),
    help="Seconds between heartbeats to the core.",
)
def desk_command(
    core: str,
    agent: str,
    key: str,
    core_key: str,
    baresip: str | None,
    queue_size: int,
    heartbeat: float,
    headset_match: str | None,
) -> None:
    """Run on an agent's PC: send headset and softphone events to the core (docs/desk.md)."""
    from .agent import Desk, DeskOptions  # the desk's imports only when it runs

    if not core.startswith(("tcp://", "ipc://")):
        raise click.BadParameter(
            f"{core!r} is not a ZeroMQ endpoint such as tcp://HOST:5570", param_hint="--core"
        )
    if baresip is not None:
        from medlytt.gateways.softphone.baresip import parse_address

        try:
            parse_address(baresip)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--baresip") from None
    options = DeskOptions(core, agent, key, core_key, baresip, queue_size, heartbeat, headset_match)

    def say(line: str) -> None:
        click.echo(line, err=True)

    try:
        desk = Desk(options, say)
    except (KeyFileError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        asyncio.run(_until_stopped(desk))
    except zmq.ZMQError as exc:
        raise click.ClickException(f"cannot reach the core at {core}: {exc}") from None


async def _until_stopped(desk: object) -> None:
    """Run the desk until SIGTERM or SIGINT, then stop cleanly (exit status 0)."""
    from .agent import Desk

    assert isinstance(desk, Desk)
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(desk.run())
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    desk.say(
        f"medlytt desk: stopped ({desk.link.queued} events unsent, {desk.link.dropped} dropped)"
    )
    sys.stdout.flush()
