"""The example package in docs/examples/medlytt-longcalls, installed through its entry point.

Each test session pip-installs it into a folder of its own on the path (tests/conftest.py;
never into .venv); these tests prove that Medlytt finds it exactly the way it finds its
built-in plugins, and that each of its hooks works end to end.
"""

import asyncio
import subprocess
from importlib.metadata import entry_points

from medlytt import events as ev
from medlytt.clock import utcnow
from support import MEDLYTT, medlytt_env


def test_it_is_registered_through_the_entry_point_group():
    found = {ep.name: ep for ep in entry_points(group="medlytt")}
    assert found["longcalls"].dist.metadata["Name"] == "medlytt-longcalls"
    assert found["demo"].dist.metadata["Name"] == "medlytt"


def test_medlytt_plugins_lists_builtins_and_the_third_party_plugin():
    result = subprocess.run(
        [MEDLYTT, "plugins"], env=medlytt_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert "builtin" in lines["demo"] and "builtin" in lines["queue_metrics"]
    assert "0.4.0" in lines["longcalls"]
    assert "package medlytt-longcalls" in lines["longcalls"]
    assert "medlytt_routes" in lines["longcalls"]


def test_its_config_is_validated_by_its_schema(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text("[longcalls]\nthreshold_seconds = 'long'\n")
    result = subprocess.run(
        [MEDLYTT, "check-config", "--config", str(path)],
        env=medlytt_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "longcalls.threshold_seconds: expected `float`, got `str`" in result.stderr


async def test_its_hooks_work_end_to_end(medlytt, medlytt_client, tmp_path):
    async with medlytt({"longcalls": {"threshold_seconds": 100}}) as app:
        assert app.host.get("longcalls").source == "package medlytt-longcalls"
        for call_id, talk in (("short", 50.0), ("long", 700.0)):
            app.publish(
                ev.CallEnded(
                    at=utcnow(),
                    source="t",
                    call_id=call_id,
                    queue="support",
                    agent_id="A1",
                    hung_up_by="caller",
                    talk_seconds=talk,
                )
            )
        await app.settle()
        assert app.metric("medlytt_longcalls_total", {"queue": "support"}) == 1
        client = await medlytt_client(app)
        body = await (await client.get("/api/longcalls")).json()
        assert [row["call_id"] for row in body["long_calls"]] == ["long"]
    result = await asyncio.to_thread(
        subprocess.run,
        [MEDLYTT, "longcalls", "--db", str(tmp_path / "medlytt.db")],
        env=medlytt_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "support  A1  700 s" in result.stdout


async def test_its_own_event_type_is_journaled_served_and_decoded_after_a_restart(
    medlytt, medlytt_client
):
    from medlytt_longcalls import LongCallFlagged

    async with medlytt({"longcalls": {"threshold_seconds": 100}}) as app:
        assert app.events.owners["longcalls.flagged"] == "longcalls"
        app.publish(
            ev.CallEnded(
                at=utcnow(),
                source="t",
                call_id="long",
                queue="support",
                agent_id="A1",
                hung_up_by="agent",
                talk_seconds=700.0,
            )
        )
        await app.settle()
        client = await medlytt_client(app)
        body = await (await client.get("/api/events?type=longcalls.flagged")).json()
        [row] = body["events"]
        assert row["plugin"] == "longcalls" and row["known"] is True
        assert row["event"]["call_id"] == "long" and row["event"]["threshold_seconds"] == 100
    async with medlytt() as app:  # a restart: read back as the plugin's own class
        (data,) = await app.storage.run(
            lambda db: db.execute(
                "SELECT data FROM events WHERE type = 'longcalls.flagged'"
            ).fetchone()
        )
        flagged = app.events.decode(data)
        assert isinstance(flagged, LongCallFlagged) and flagged.talk_seconds == 700.0
    # Without the plugin (disabled here; uninstalled is the same: it is never registered)
    # the journal still reads, the row served as stored.
    async with medlytt({"longcalls": {"enabled": False}}) as app:
        assert "longcalls.flagged" not in app.events.types
        client = await medlytt_client(app)
        body = await (await client.get("/api/events")).json()
        [row] = [r for r in body["events"] if r["event"]["type"] == "longcalls.flagged"]
        assert row["known"] is False and row["plugin"] is None
        assert row["event"]["talk_seconds"] == 700.0


async def test_it_adds_an_eighth_competence_module_switched_on_per_team(medlytt, medlytt_client):
    """The package declares the module "long-calls" (number 8) through the same hook as the
    built-in modules, ships its form through ``medlytt_forms``, and asks whether the agent's
    team has the module on, as the built-in ones do."""
    from medlytt.testing import add_user_with_token

    async with medlytt({"longcalls": {"threshold_seconds": 100}}) as app:
        add_user_with_token(app, "a1", "agent", teams=["team-a"], agent_id="A1")
        lead = add_user_with_token(app, "sup-b", "supervisor", teams=["team-b"])
        client = await medlytt_client(app)
        modules = (await (await client.get("/api/modules")).json())["modules"]
        assert [m["number"] for m in modules][-1] == 8
        [module] = [m for m in modules if m["id"] == "long-calls"]
        assert module["title"] == "Long calls" and module["active_teams"] == []
        assert module["forms"] == ["long-call-review"]
        forms = await (await client.get("/api/forms", params={"module": "long-calls"})).json()
        assert [f["id"] for f in forms["forms"]] == ["long-call-review"]

        def long_call(call_id: str) -> ev.CallEnded:
            return ev.CallEnded(
                at=utcnow(),
                source="t",
                call_id=call_id,
                queue="support",
                agent_id="A1",
                hung_up_by="caller",
                talk_seconds=700.0,
            )

        app.publish(long_call("before"))
        # A supervisor of another team may not switch team-a's modules; an admin may.
        refused = await client.put(
            "/api/teams/team-a/modules/long-calls",
            json={"active": True},
            headers={"Authorization": f"Bearer {lead}"},
        )
        assert refused.status == 403
        switched = await client.put("/api/teams/team-a/modules/long-calls", json={"active": True})
        assert switched.status == 200 and (await switched.json())["changed"] is True
        app.publish(long_call("after"))
        await app.settle()
        modules = (await (await client.get("/api/modules")).json())["modules"]
        [module] = [m for m in modules if m["id"] == "long-calls"]
        assert module["active_teams"] == ["team-a"]
        flagged = await (await client.get("/api/events?type=longcalls.flagged")).json()
        coached = {row["event"]["call_id"]: row["event"]["coached"] for row in flagged["events"]}
        assert coached == {"before": False, "after": True}
