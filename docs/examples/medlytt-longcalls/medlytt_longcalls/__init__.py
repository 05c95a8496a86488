"""Flag calls whose talk time is longer than ``[longcalls] threshold_seconds``.

An example of a third-party Medlytt plugin, installed as its own package and found
through the ``medlytt`` entry-point group.  It imports only Medlytt's public API
(``medlytt``), and publishes an event type of its own, ``longcalls.flagged``.

It also adds an eighth competence module to the method's seven, "Long calls" (``long-calls``),
with the same hooks the built-in modules use: ``medlytt_competence_modules`` declares it,
``medlytt_forms`` ships its review form, and the plugin asks
``app.modules.active_for_agent("long-calls", agent_id)`` whether the agent's team works on
it now (a flagged call says so in ``coached``).
"""

from __future__ import annotations

import click
import msgspec
import sqlite_utils
from aiohttp import web
from medlytt import (
    CallEnded,
    CompetenceModule,
    EvaluationForm,
    Event,
    FormItem,
    FormSection,
    Migration,
    Scale,
    allow,
    authenticate,
    hookimpl,
    json_response,
    listens_to,
    medlytt_of,
    scope_of,
    utcnow,
)
from prometheus_client import CollectorRegistry, Counter

__version__ = "0.4.0"
NAME = "longcalls"
MODULE = "long-calls"
YES_NO = Scale(min=0, max=1, labels={"0": "No", "1": "Yes"})


class LongCallFlagged(Event, frozen=True, tag="longcalls.flagged"):
    """A queue call talked longer than ``[longcalls] threshold_seconds``."""

    call_id: str
    queue: str | None
    agent_id: str | None
    talk_seconds: float
    threshold_seconds: float
    #: Whether the agent's team had the long-calls module on when the call was flagged.
    coached: bool = False


class Settings(msgspec.Struct, forbid_unknown_fields=True):
    threshold_seconds: float = 600.0


def _create_table(db: sqlite_utils.Database) -> None:
    db["long_calls"].create(
        {"call_id": str, "at": str, "queue": str, "agent_id": str, "talk_seconds": float},
        pk="call_id",
        if_not_exists=True,
    )


@hookimpl
def medlytt_config_schema():
    return Settings


@hookimpl
def medlytt_migrations():
    return [Migration("create_long_calls", _create_table)]


@hookimpl
def medlytt_competence_modules():
    """An eighth module beside the method's seven (a third party numbers from 8)."""
    return [
        CompetenceModule(
            id=MODULE,
            number=8,
            title="Long calls",
            titles={"en": "Long calls", "nb": "Lange samtaler"},
            summary="Calls longer than the threshold, reviewed with the agent.",
            forms=("long-call-review",),
            measures=("medlytt_longcalls_total",),
            activities=("longcalls.flagged",),
        )
    ]


@hookimpl
def medlytt_forms():
    return [
        EvaluationForm(
            id="long-call-review",
            version=1,
            title="Long calls: why was this call long?",
            module=MODULE,
            sections=(
                FormSection(
                    id="length",
                    title="The call's length",
                    items=(
                        FormItem(
                            id="errand-needed-it",
                            text="The customer's errand needed the time the call took.",
                            guidance="Yes when no part of the call repeated what was said.",
                            scale=YES_NO,
                        ),
                        FormItem(
                            id="agent-steered",
                            text="The agent steered the call back when it drifted.",
                            guidance="Yes when every drift was brought back within a turn.",
                            scale=YES_NO,
                        ),
                    ),
                ),
            ),
        )
    ]


@hookimpl
def medlytt_metrics(registry: CollectorRegistry, app):
    app.plugin_state[NAME] = Counter(
        "medlytt_longcalls", "Calls longer than the threshold.", ["queue"], registry=registry
    )


@hookimpl
def medlytt_event_types():
    return [LongCallFlagged]


@hookimpl
@listens_to(CallEnded)
async def medlytt_event(event: CallEnded, app):
    threshold = app.plugin_config(NAME).threshold_seconds
    if event.talk_seconds <= threshold:
        return
    app.plugin_state[NAME].labels(event.queue or "none").inc()
    row = {
        "call_id": event.call_id,
        "at": event.at.isoformat(),
        "queue": event.queue,
        "agent_id": event.agent_id,
        "talk_seconds": event.talk_seconds,
    }
    await app.storage.run(lambda db: db["long_calls"].upsert(row, pk="call_id"))
    app.publish(
        LongCallFlagged(
            at=utcnow(),
            source=NAME,
            call_id=event.call_id,
            queue=event.queue,
            agent_id=event.agent_id,
            talk_seconds=event.talk_seconds,
            threshold_seconds=threshold,
            coached=app.modules.active_for_agent(MODULE, event.agent_id),
        )
    )


@allow("admin", "supervisor", rows="admin: all; supervisor: calls of agents of own teams")
async def list_long_calls(request: web.Request) -> web.Response:
    app = medlytt_of(request)
    scope = await scope_of(app, await authenticate(request))
    clause, params = scope.sql("agent_id", "at")  # the rows this caller may see
    rows = await app.storage.run(
        lambda db: list(db.query(f"SELECT * FROM long_calls WHERE {clause} ORDER BY at", params))
    )
    return json_response({"long_calls": rows})


@hookimpl
def medlytt_routes(app):
    return [web.get("/api/longcalls", list_long_calls)]


@hookimpl
def medlytt_cli_commands(cli: click.Group):
    @cli.command(name="longcalls")
    @click.option("--db", "db_path", default="medlytt.db", show_default=True)
    def longcalls(db_path: str) -> None:
        """List calls flagged as long (from the longcalls plugin)."""
        db = sqlite_utils.Database(db_path)
        if not db["long_calls"].exists():
            click.echo("no long calls recorded yet")
            return
        for row in db["long_calls"].rows_where(order_by="at"):
            click.echo(
                f"{row['at']}  {row['queue']}  {row['agent_id']}  {row['talk_seconds']:.0f} s"
            )
