"""One test per hook: each hook does what core/hookspecs.py promises (``test_hook_<name>``).

Beside the lifecycle order (tests/test_hooks.py), each test here shows one hook's own
contract: what it receives, what its result does, and how an implementation that breaks
the rules is refused or isolated.  ``test_every_hook_has_its_own_test`` keeps the list
complete by name.
"""

from __future__ import annotations

import asyncio
import sys

import click
import msgspec
import pytest
import sqlite_utils
from aiohttp import web
from click.testing import CliRunner
from medlytt import (
    CallQueued,
    ChannelEntered,
    DtmfReceived,
    Event,
    Gateway,
    Migration,
    RawEvent,
    StateSlot,
    allow,
    hookimpl,
    json_response,
    listens_to,
    medlytt_of,
    utcnow,
)
from medlytt.app import load_plugins
from medlytt.callcontrol import NoCallControl
from medlytt.config import ConfigError
from medlytt.forms import EvaluationForm, FormItem, FormSection
from medlytt.hookspecs import HOOK_NAMES, SYNC_ONLY
from medlytt.plugin_host import PluginHost, PluginLoadError
from medlytt.testing import add_user_with_token, make_config, wait_until
from prometheus_client import Counter


def test_every_hook_has_its_own_test():
    module = sys.modules[__name__]
    missing = [n for n in HOOK_NAMES if not callable(getattr(module, f"test_hook_{n}", None))]
    assert not missing, f"hooks without a test_hook_<name> here: {missing}"


# ------------------------------------------------------------------------- registration


class Wrapper:
    @hookimpl(wrapper=True)
    def medlytt_startup(self, app):
        return (yield)


class AsyncMigrations:
    @hookimpl
    async def medlytt_migrations(self):
        return []


@pytest.mark.parametrize(
    ("plugin", "message"),
    [
        (Wrapper(), "medlytt_startup is a pluggy wrapper"),
        (AsyncMigrations(), "medlytt_migrations must be a plain def, not async def"),
    ],
)
def test_wrappers_and_async_sync_only_hooks_are_refused_at_registration(plugin, message):
    host = PluginHost()
    with pytest.raises(PluginLoadError, match=message):
        host.register(plugin, name="bad", version="0", source="module")
    assert "bad" not in host.names()
    assert not list(host.implementations("medlytt_startup"))  # nothing half-registered


def test_a_refused_plugin_stops_medlytt_with_a_config_error_naming_it(tmp_path):
    with pytest.raises(ConfigError, match="plugin 'bad': medlytt_startup is a pluggy wrapper"):
        load_plugins(make_config({}, db_path=tmp_path / "m.db"), extra=[("bad", Wrapper())])


def test_the_sync_only_hooks_are_the_ones_documented_so():
    from medlytt import hookspecs

    for name in HOOK_NAMES:
        documented = "**Synchronous only.**" in (getattr(hookspecs, name).__doc__ or "")
        assert documented == (name in SYNC_ONLY), name


# ------------------------------------------------------------------------- one per hook


class Settings(msgspec.Struct, forbid_unknown_fields=True):
    threshold: int = 3


def test_hook_medlytt_config_schema(tmp_path):
    class Plugin:
        @hookimpl
        def medlytt_config_schema(self):
            return Settings

    config = make_config({"configured": {"threshold": 7}}, db_path=tmp_path / "m.db")
    _, configs = load_plugins(config, extra=[("configured", Plugin())])
    assert configs["configured"] == Settings(threshold=7)
    bad = make_config({"configured": {"treshold": 7}}, db_path=tmp_path / "m.db")
    with pytest.raises(ConfigError, match=r"configured\.treshold"):
        load_plugins(bad, extra=[("configured", Plugin())])


async def test_hook_medlytt_startup(medlytt):
    seen = {}

    class Plugin:
        @hookimpl
        async def medlytt_startup(self, app):
            seen["started"] = app.started  # not yet: gateways start after it
            seen["gateways"] = list(app.gateways)

    async with medlytt(plugins=[("p", Plugin())]) as app:
        assert app.started
    assert seen == {"started": False, "gateways": []}


async def test_hook_medlytt_shutdown(medlytt):
    seen = []

    class Plugin:
        @hookimpl
        def medlytt_event(self, event):
            seen.append(event.type)

        @hookimpl
        async def medlytt_shutdown(self, app):
            seen.append(f"shutdown, journal pending {app.journal.pending}")

    async with medlytt(plugins=[("p", Plugin())]) as app:
        app.publish(CallQueued(at=utcnow(), source="t", call_id="c1", queue="q"))
    assert seen[0] == "call.queued"  # the queued event was delivered before shutdown
    assert seen[1].startswith("shutdown")


async def test_hook_medlytt_event(medlytt):
    class Failing:
        @hookimpl
        def medlytt_event(self, event):
            raise RuntimeError("plugin bug")

    class Recording:
        def __init__(self):
            self.seen = []

        @hookimpl
        def medlytt_event(self, event, state, app):
            self.seen.append((event.type, len(state.calls), app is not None))

    recording = Recording()
    async with medlytt(plugins=[("failing", Failing()), ("recording", recording)]) as app:
        app.publish(CallQueued(at=utcnow(), source="t", call_id="c1", queue="q"))
        await app.settle()
        assert recording.seen == [("call.queued", 1, True)]
        assert app.host.get("failing").errors == 1
        assert app.metric("medlytt_plugin_errors_total", {"plugin": "failing"}) == 1


class ChannelGateway(Gateway):
    """A gateway whose call control hands a few channel events to the core."""

    name = "fake-pbx"

    def __init__(self, count: int = 1) -> None:
        super().__init__()
        self.call_control = NoCallControl(self.name)
        self.count = count

    async def run(self, publish):
        self.connected = True
        port = self.call_control
        for n in range(self.count):
            now = utcnow()
            self.publish_channel(
                ChannelEntered(at=now, pbx=self.name, channel=f"ch{n}", role="ivr"), port
            )
            self.publish_channel(
                DtmfReceived(at=now, pbx=self.name, channel=f"ch{n}", digit="5"), port
            )
        await asyncio.Event().wait()


class GatewayPlugin:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    @hookimpl
    def medlytt_gateways(self):
        return [self.gateway]


async def test_hook_medlytt_channel_event(medlytt):
    class Keys:
        def __init__(self):
            self.seen = []

        @hookimpl
        @listens_to(DtmfReceived)
        def medlytt_channel_event(self, event, port):
            self.seen.append((event.type, event.digit, port.pbx))

    class Broken:
        @hookimpl
        def medlytt_channel_event(self, event):
            raise RuntimeError("channel handler bug")

    class Hanging:
        @hookimpl
        async def medlytt_channel_event(self, event):
            await asyncio.sleep(60)

    keys = Keys()
    plugins = [
        ("gw", GatewayPlugin(ChannelGateway(count=3))),
        ("keys", keys),
        ("broken", Broken()),
        ("hanging", Hanging()),
    ]
    sections = {"plugins": {"hook_timeout_seconds": 0.1, "breaker_failures": 3}}
    async with medlytt(sections, plugins=plugins) as app:
        await wait_until(lambda: len(keys.seen) == 3, timeout=5)
        assert keys.seen == [("channel.dtmf", "5", "fake-pbx")] * 3
        broken, hanging = app.host.get("broken"), app.host.get("hanging")
        await wait_until(lambda: hanging.errors >= 3, timeout=5)
        assert broken.errors == 3 and broken.breaker.state.value == "open"
        assert hanging.last_error == "medlytt_channel_event: timed out after 0.1 s"
        assert app.metric("medlytt_plugin_errors_total", {"plugin": "broken"}) == 3
        assert app.metric("medlytt_plugin_breaker_open", {"plugin": "broken"}) == 1
        assert app.journal is not None and app.journal.pending == 0  # never journaled


async def test_hook_medlytt_gateways(medlytt):
    gateway = ChannelGateway(count=0)
    async with medlytt(plugins=[("gw", GatewayPlugin(gateway))]) as app:
        assert app.gateways == [gateway]
        await wait_until(lambda: gateway.connected, timeout=5)
        assert app.metric("medlytt_gateway_up", {"gateway": "fake-pbx"}) == 1


async def test_hook_medlytt_routes(medlytt, medlytt_client):
    @allow("admin", "supervisor", rows="counts only")
    async def hello(request: web.Request) -> web.Response:
        return json_response({"plugins": len(medlytt_of(request).host.plugins())})

    async def undeclared(request: web.Request) -> web.Response:
        return json_response({"secret": "everything"})

    class Plugin:
        @hookimpl
        def medlytt_routes(self, app):
            return [web.get("/api/p/hello", hello)]

    class Careless:
        @hookimpl
        def medlytt_routes(self, app):
            return [web.get("/api/careless", undeclared)]

    async with medlytt(plugins=[("p", Plugin()), ("careless", Careless())]) as app:
        client = await medlytt_client(app)
        response = await client.get("/api/p/hello")
        assert response.status == 200
        assert (await response.json())["plugins"] == len(app.host.plugins())
        anonymous = await medlytt_client(app, role=None)
        assert (await anonymous.get("/api/p/hello")).status == 401
        agent = await medlytt_client(app, role="agent")
        assert (await agent.get("/api/p/hello")).status == 403
        # A route without an access rule is never served, and the plugin says why.
        assert (await client.get("/api/careless")).status == 404
        assert "declares no access rule" in app.host.get("careless").last_error


async def test_hook_medlytt_metrics(medlytt):
    class Plugin:
        @hookimpl
        def medlytt_metrics(self, registry, app):
            app.plugin_state["p"] = Counter("medlytt_p_things", "Things.", registry=registry)

    async with medlytt(plugins=[("p", Plugin())]) as app:
        app.plugin_state["p"].inc(2)
        assert app.metric("medlytt_p_things_total") == 2


async def test_hook_medlytt_migrations(medlytt):
    runs = []

    def create(db):
        runs.append(1)
        db["p_rows"].create({"id": int}, pk="id", if_not_exists=True)

    class Plugin:
        @hookimpl
        def medlytt_migrations(self):
            return [Migration("create_p_rows", create)]

    async with medlytt(plugins=[("p", Plugin())]) as app:
        assert await app.storage.run(lambda db: db["p_rows"].exists())
    async with medlytt(plugins=[("p", Plugin())]):
        pass
    assert runs == [1]  # recorded after it succeeded: never run twice


class Flagged(Event, frozen=True, tag="contract.flagged"):
    """A test plugin's own event."""

    call_id: str
    why: str


async def test_hook_medlytt_event_types(medlytt, medlytt_client):
    class Plugin:
        @hookimpl
        def medlytt_event_types(self):
            return [Flagged]

    async with medlytt(plugins=[("contract", Plugin())]) as app:
        app.publish(Flagged(at=utcnow(), source="contract", call_id="c1", why="long"))
        await app.journal.flush()
        assert app.events.owners["contract.flagged"] == "contract"
        client = await medlytt_client(app)
        rows = (await (await client.get("/api/events?type=contract.flagged")).json())["events"]
        assert rows[0]["event"]["why"] == "long" and rows[0]["plugin"] == "contract"
    async with medlytt(plugins=[("contract", Plugin())]) as app:  # after a restart: typed
        data = await app.storage.run(lambda db: db.execute("SELECT data FROM events").fetchone()[0])
        assert app.events.decode(data) == Flagged(
            at=app.events.decode(data).at, source="contract", call_id="c1", why="long"
        )
    async with medlytt() as app:  # the plugin is gone: the row still reads, raw
        assert isinstance(app.events.decode(data), RawEvent)
        client = await medlytt_client(app)
        rows = (await (await client.get("/api/events?type=contract.flagged")).json())["events"]
        assert rows[0]["known"] is False and rows[0]["event"]["why"] == "long"


def test_hook_medlytt_event_types_refuses_a_tag_in_use(tmp_path):
    from medlytt.app import Medlytt

    class Clash(Event, frozen=True, tag="call.queued"):
        pass

    class Plugin:
        @hookimpl
        def medlytt_event_types(self):
            return [Clash]

    config = make_config({}, db_path=tmp_path / "m.db")
    host, configs = load_plugins(config, extra=[("clash", Plugin())])
    with pytest.raises(ConfigError, match=r"'call\.queued' is already defined by 'core'"):
        Medlytt(config, host, configs)


async def test_hook_medlytt_state_slot(medlytt, medlytt_client):
    class Waiting(StateSlot):
        follows = (CallQueued,)

        def __init__(self):
            self.count = 0

        def apply(self, event):
            self.count += 1

        def snapshot(self):
            return {"count": self.count}

    class Plugin:
        @hookimpl
        def medlytt_state_slot(self):
            return Waiting()

        @hookimpl
        def medlytt_event(self, event, state):
            self.at_delivery = state.slot(Waiting).count

    plugin = Plugin()
    async with medlytt(plugins=[("waiting", plugin)]) as app:
        app.publish(CallQueued(at=utcnow(), source="t", call_id="c1", queue="q"))
        await app.settle()
        assert plugin.at_delivery == 1  # applied before any medlytt_event
        client = await medlytt_client(app)
        state = await (await client.get("/api/state")).json()
        assert state["plugins"]["waiting"] == {"count": 1}


async def test_hook_medlytt_forms(medlytt):
    form = EvaluationForm(
        id="f",
        version=1,
        title="F",
        module="m",
        sections=(FormSection(title="S", items=(FormItem(id="i", text="I"),)),),
    )

    class Plugin:
        @hookimpl
        def medlytt_forms(self):
            return [form, form]  # the second is a duplicate: logged, first kept

    async with medlytt(plugins=[("p", Plugin())]) as app:
        assert app.forms[("f", 1)] == form
        assert [key for key in app.forms if key[0] == "f"] == [("f", 1)]


async def test_hook_medlytt_competence_modules(medlytt, medlytt_client):
    from medlytt import CompetenceModule

    module = CompetenceModule(id="greeting-time", number=8, title="Greeting time", forms=("f",))

    class Plugin:
        @hookimpl
        def medlytt_competence_modules(self):
            return [module, module, "not a module"]  # duplicate and junk: logged, skipped

    async with medlytt(plugins=[("p", Plugin())]) as app:
        assert app.modules.declared["greeting-time"] == module
        add_user_with_token(app, "a1", "agent", teams=["team-a"], agent_id="PJSIP/1001")
        lead_b = add_user_with_token(app, "sup-b", "supervisor", teams=["team-b"])
        client = await medlytt_client(app)
        assert not app.modules.active_for_agent("greeting-time", "PJSIP/1001")
        refused = await client.put(
            "/api/teams/team-a/modules/greeting-time",
            json={"active": True},
            headers={"Authorization": f"Bearer {lead_b}"},
        )
        assert refused.status == 403
        unknown = await client.put("/api/teams/team-a/modules/nope", json={"active": True})
        assert unknown.status == 404
        on = await client.put("/api/teams/team-a/modules/greeting-time", json={"active": True})
        assert on.status == 200
        assert (await on.json())["since"] is not None
        assert app.modules.active_for_agent("greeting-time", "PJSIP/1001")
        listed = await (await client.get("/api/modules")).json()
        mine = next(m for m in listed["modules"] if m["id"] == "greeting-time")
        assert mine["active_teams"] == ["team-a"] and mine["number"] == 8
        off = await client.put("/api/teams/team-a/modules/greeting-time", json={"active": False})
        assert (await off.json())["changed"] is True
        assert not app.modules.active_for_agent("greeting-time", "PJSIP/1001")
        await app.journal.flush()
        rows = app.storage.run_sync(
            lambda db: db.execute(
                "SELECT data FROM events WHERE type = 'module.switched' ORDER BY seq"
            ).fetchall()
        )
        assert [msgspec.json.decode(r[0])["active"] for r in rows] == [True, False]


def test_hook_medlytt_cli_commands():
    host = PluginHost()

    class Plugin:
        @hookimpl
        def medlytt_cli_commands(self, cli):
            @cli.command("hello")
            def hello() -> None:
                click.echo("hello from a plugin")

    host.register(Plugin(), name="p", version="0", source="module")
    group = click.Group("medlytt")
    host.call_sync("medlytt_cli_commands", cli=group)
    result = CliRunner().invoke(group, ["hello"])
    assert result.output == "hello from a plugin\n"


async def test_hook_medlytt_audit_trails(medlytt, tmp_path, monkeypatch):
    """A plugin's trail is checked by ``medlytt audit verify`` beside the core's, and a
    row changed by hand is named with the trail's name."""
    from medlytt.cli import cli
    from sample_plugins import chained_notes

    async with medlytt(plugins=[("chained_notes", chained_notes)]) as app:
        for text in ("one", "two"):
            await app.storage.run(lambda db, text=text: chained_notes.note(db, text))
    monkeypatch.setenv("MEDLYTT_STORAGE__PATH", str(tmp_path / "medlytt.db"))
    monkeypatch.setenv("MEDLYTT_PLUGINS__MODULES", '["sample_plugins.chained_notes"]')
    result = CliRunner().invoke(cli, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "chained notes: 2 rows, chain intact" in result.output.splitlines()
    assert "recording access: 0 rows, chain intact" in result.output.splitlines()
    db = sqlite_utils.Database(tmp_path / "medlytt.db")
    db.execute("DROP TRIGGER chained_notes_no_update")
    db.execute("UPDATE chained_notes SET note = 'three' WHERE seq = 2")
    db.conn.commit()
    db.conn.close()
    result = CliRunner().invoke(cli, ["audit", "verify"])
    assert result.exit_code == 1, result.output
    assert (
        "chained notes: seq 2: hash mismatch: the row was changed after it was written"
        in result.output.splitlines()
    )


async def test_hook_medlytt_doctor():
    from medlytt import DoctorCheck
    from medlytt.doctor import run_plugin_checks

    host = PluginHost()

    class Checks:
        @hookimpl
        async def medlytt_doctor(self, plugin_configs):
            limit = plugin_configs["checks"]["limit"]
            return [
                DoctorCheck.ok("checks limit", f"{limit}"),
                DoctorCheck.fail("checks peer", "peer unreachable", "start the peer"),
            ]

    class Broken:
        @hookimpl
        def medlytt_doctor(self):
            raise RuntimeError("boom")

    host.register(Checks(), name="checks", version="0", source="module")
    host.register(Broken(), name="broken", version="0", source="module")
    found = {c.name: c for c in await run_plugin_checks(host, {"checks": {"limit": 3}})}
    assert {name: c.status for name, c in found.items()} == {
        "checks limit": "ok",
        "checks peer": "fail",
        "plugin broken": "fail",  # an exception is the plugin's failure, not the doctor's
    }
    assert found["checks peer"].fix == "start the peer" and found["checks limit"].detail == "3"
    assert "boom" in found["plugin broken"].detail


# ------------------------------------------------------------------------- web console


async def test_hook_medlytt_console_pages(medlytt, medlytt_client):
    from markupsafe import escape
    from medlytt import ConsolePage

    async def render(request: web.Request, actor) -> str:
        return f'<p id="hello">Hello {escape(actor.name)}</p>'

    class Plugin:
        @hookimpl
        def medlytt_console_pages(self, app):
            return [ConsolePage("hello", "Hello", render, roles=("agent",), title_nb="Hei")]

    with pytest.raises(ValueError, match="lower-case"):
        ConsolePage("Hello World", "x", render)
    async with medlytt(plugins=[("p", Plugin())]) as app:
        agent = await medlytt_client(app, role="agent")
        response = await agent.get("/console/x/hello")
        html = await response.text()
        assert response.status == 200, html
        assert '<p id="hello">Hello test-agent-' in html  # inside the console's layout
        assert '<a href="/console/x/hello" aria-current="page">Hello</a>' in html  # menu
        supervisor = await medlytt_client(app, role="supervisor")
        assert (await supervisor.get("/console/x/hello")).status == 403  # not its roles
        assert "/console/x/hello" not in await (await supervisor.get("/console/profile")).text()
        assert (await agent.get("/console/x/nothing")).status == 404
        anonymous = await medlytt_client(app, role=None)
        assert (await anonymous.get("/console/x/hello")).status == 401
