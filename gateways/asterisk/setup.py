"""``medlytt init``: a commented medlytt.toml, the Asterisk lines to add, the systemd unit.

Why from the Asterisk gateway: what a new installation needs is Asterisk's side of the
connection (http.conf, ari.conf, manager.conf, the dialplan hooks), and that knowledge lives
here.  The files are package data in ``init/``: ``medlytt.toml`` (passes
``medlytt check-config`` as written: the demo runs until ``[asterisk]`` is filled in),
``asterisk.txt`` and ``medlytt.service`` (docs/operating.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

INIT_DIR = Path(__file__).resolve().parent / "init"


def template(name: str) -> str:
    """One of the files ``medlytt init`` writes or prints."""
    return (INIT_DIR / name).read_text()


@click.command("init")
@click.option(
    "--path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("medlytt.toml"),
    show_default=True,
    help="Where to write the config file.",
)
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
@click.option(
    "--systemd",
    is_flag=True,
    help="Print the systemd unit (docs/operating.md) instead of writing a config.",
)
def init_command(path: Path, force: bool, systemd: bool) -> None:
    """Write a commented medlytt.toml and print the Asterisk configuration to add.

    The file passes `medlytt check-config` as written (the demo runs until [asterisk] is
    filled in); the Asterisk lines go to stdout, to paste into http.conf, ari.conf,
    manager.conf and extensions.conf.  Then run `medlytt doctor`.
    """
    if systemd:
        click.echo(template("medlytt.service"), nl=False)
        return
    if path.exists() and not force:
        click.echo(f"medlytt: {path} exists; not overwritten (use --force to replace it)", err=True)
        sys.exit(1)
    try:
        path.write_text(template("medlytt.toml"))
    except OSError as exc:
        click.echo(f"medlytt: cannot write {path}: {exc.strerror or exc}", err=True)
        sys.exit(1)
    click.echo(f"wrote {path}; check it with: medlytt check-config --config {path}", err=True)
    click.echo("add this to Asterisk, then run: medlytt doctor --config " + str(path), err=True)
    click.echo(template("asterisk.txt"), nl=False)
