"""``medlytt mystery``: place mystery calls, follow results, run the kill switch.

It talks to a running Medlytt over the HTTP API (docs/mystery-calls.md), so it works
from any machine that reaches the server.  Exit status: 0 done, 1 refused or unreachable
(the server's reason is printed), 2 usage errors.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
from medlytt import Api, ApiError, Unreachable, fail, token_option, url_option

FINAL_POLL_SECONDS = 1.0


@click.group()
def mystery() -> None:
    """Mystery calls: test calls as a customer (docs/mystery-calls.md)."""


@mystery.command("call")
@click.option("--queue", help="Queue to call (through its number in queue_numbers).")
@click.option("--number", help="Number to call instead of a queue.")
@click.option(
    "--script",
    "script_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSON file: {"script": [...], "after_answer": [...], ...} merged into the request.',
)
@click.option("--tester", metavar="ENDPOINT", help="Human mode: ring this phone first.")
@click.option("--caller-id", help='Caller ID to present, e.g. "Mystery <4790000000>".')
@click.option("--patience", type=float, help="Seconds to wait for a human before hanging up.")
@click.option("--campaign", help="Count the call under this campaign.")
@click.option("--wait/--no-wait", default=False, help="Wait for the result and print it.")
@url_option
@token_option
def call_command(
    queue: str | None,
    number: str | None,
    script_file: Path | None,
    tester: str | None,
    caller_id: str | None,
    patience: float | None,
    campaign: str | None,
    wait: bool,
    url: str,
    token: str | None,
) -> None:
    """Place one mystery call and print its id (and, with --wait, its result)."""
    body: dict[str, Any] = {}
    if script_file is not None:
        try:
            loaded = json.loads(script_file.read_text())
        except ValueError as exc:
            raise click.BadParameter(f"{script_file}: not JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise click.BadParameter(f"{script_file}: must hold a JSON object")
        body.update(loaded)
    given = {
        "queue": queue,
        "number": number,
        "tester": tester,
        "caller_id": caller_id,
        "patience_seconds": patience,
        "campaign": campaign,
    }
    body.update({k: v for k, v in given.items() if v is not None})
    if tester:
        body["mode"] = "human"
    api = Api(url, token)
    try:
        placed = api.request("POST", "/api/mystery-calls", body)
        click.echo(f"mystery call {placed['id']} to {placed['target']}")
        if wait:
            row = placed
            while row["outcome"] == "running":
                time.sleep(FINAL_POLL_SECONDS)
                row = api.request("GET", f"/api/mystery-calls/{placed['id']}")
            click.echo(json.dumps(row, indent=2))
    except (ApiError, Unreachable) as exc:
        fail(exc, bool(token))


@mystery.command("results")
@click.option("--campaign", help="Only this campaign's calls.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@url_option
@token_option
def results_command(campaign: str | None, limit: int, url: str, token: str | None) -> None:
    """The latest mystery calls, one line each."""
    query = f"?limit={limit}" + (f"&campaign={campaign}" if campaign else "")
    try:
        rows = Api(url, token).request("GET", f"/api/mystery-calls{query}")["mystery_calls"]
    except (ApiError, Unreachable) as exc:
        fail(exc, bool(token))
    for row in rows:
        answer = "-" if row["answer_seconds"] is None else f"{row['answer_seconds']:.1f}s"
        click.echo(
            f"{row['started_at'][:19]}  {row['id']}  {row['target']:<16} {row['outcome']:<10}"
            f" answer {answer:>7}  agent {row['agent_id'] or '-'}"
        )


@mystery.command("kill-switch")
@click.argument("state", type=click.Choice(["on", "off", "status"]))
@click.option(
    "--hang-up", is_flag=True, help="With on: hang up running calls instead of letting them end."
)
@url_option
@token_option
def kill_switch_command(state: str, hang_up: bool, url: str, token: str | None) -> None:
    """Stop (on) or allow (off) new mystery calls, or show the switch (status)."""
    api = Api(url, token)
    try:
        if state == "status":
            result = api.request("GET", "/api/mystery-kill-switch")
        else:
            body: dict[str, Any] = {"on": state == "on"}
            if hang_up:
                body["running"] = "hang_up"
            result = api.request("PUT", "/api/mystery-kill-switch", body)
    except (ApiError, Unreachable) as exc:
        fail(exc, bool(token))
    click.echo(json.dumps(result, indent=2))
