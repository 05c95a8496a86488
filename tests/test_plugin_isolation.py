"""A plugin that raises and one that hangs never stop the core or the other plugins."""

import json
import subprocess
import urllib.request

from medlytt.clock import utcnow
from medlytt.events import TalkStarted
from medlytt.testing import poll_until, wait_until
from sample_plugins import failing, hanging, recorder
from support import MEDLYTT, medlytt_env

ISOLATION = {
    "plugins": {"hook_timeout_seconds": 0.2, "breaker_failures": 3, "breaker_reset_seconds": 3600},
}


def talk(i: int) -> TalkStarted:
    return TalkStarted(at=utcnow(), source="test", call_id=f"c{i}", leg="caller")


async def test_raising_and_hanging_plugins_are_isolated(medlytt, medlytt_client):
    plugins = [("failing", failing), ("hanging", hanging), ("recorder", recorder)]
    async with medlytt(ISOLATION, plugins=plugins) as app:
        for i in range(50):
            app.publish(talk(i))
        # The healthy plugin gets every event, in order, while the others fail.
        await wait_until(lambda: len(app.plugin_state.get("recorder", [])) == 50, timeout=5)
        assert [e.call_id for e in app.plugin_state["recorder"]] == [f"c{i}" for i in range(50)]

        # Both breakers open after 3 consecutive failures; errors are counted per plugin.
        await wait_until(lambda: app.host.get("hanging").breaker.state == "open", timeout=5)
        assert app.host.get("failing").breaker.state == "open"
        assert app.metric("medlytt_plugin_errors_total", {"plugin": "failing"}) == 3
        assert app.metric("medlytt_plugin_errors_total", {"plugin": "hanging"}) == 3
        assert (
            app.metric("medlytt_plugin_errors_total", {"plugin": "recorder"}) == 0
        )  # from the start
        assert app.metric("medlytt_plugin_breaker_open", {"plugin": "failing"}) == 1
        assert app.metric("medlytt_plugin_breaker_open", {"plugin": "recorder"}) == 0
        # Events that arrived while the breaker was open are counted, not silently lost.
        await app.settle()
        assert app.metric("medlytt_plugin_events_dropped_total", {"plugin": "failing"}) == 47

        # The core keeps serving.
        client = await medlytt_client(app)
        response = await client.get("/healthz")
        assert response.status == 200
        plugins_body = await (await client.get("/api/plugins")).json()
        by_name = {p["name"]: p for p in plugins_body["plugins"]}
        assert by_name["hanging"]["breaker"] == "open"
        assert "timed out after 0.2 s" in by_name["hanging"]["last_error"]
        assert "failing plugin cannot handle talk.started" in by_name["failing"]["last_error"]

        # Later events still reach the healthy plugin.
        app.publish(talk(50))
        await app.settle()
        assert len(app.plugin_state["recorder"]) == 51


async def test_breaker_closes_again_after_a_successful_trial(medlytt):
    calls = []

    class Flaky:
        """Fails three times, then works."""

        from medlytt import hookimpl

        @hookimpl
        def medlytt_event(self, event):
            calls.append(event)
            if len(calls) <= 3:
                raise ValueError("not yet")

    settings = {"plugins": {"breaker_failures": 3, "breaker_reset_seconds": 0.2}}
    async with medlytt(settings, plugins=[("flaky", Flaky())]) as app:
        for i in range(3):
            app.publish(talk(i))
        await app.settle()
        info = app.host.get("flaky")
        assert info.breaker.state == "open"
        await wait_until(lambda: info.breaker.state == "half_open", timeout=2)
        app.publish(talk(3))
        await app.settle()
        assert info.breaker.state == "closed"
        assert len(calls) == 4


async def test_a_handler_that_swallows_the_timeout_is_still_stopped_and_counted(medlytt):
    """The bus's watchdog cancels an ``async`` handler past the hook timeout; one that
    catches the cancellation and goes on sleeping is cut at its next await all the same,
    counted as a timeout, and the next event reaches it."""
    import asyncio
    import contextlib

    seen: list[str] = []

    class Stubborn:
        from medlytt import hookimpl

        @hookimpl
        async def medlytt_event(self, event):
            seen.append(event.call_id)
            if event.call_id == "c0":
                # Misbehaves: ignores the cancellation and returns normally.
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.sleep(30)

    async with medlytt(ISOLATION, plugins=[("stubborn", Stubborn())]) as app:
        loop = asyncio.get_running_loop()
        started = loop.time()
        app.publish(talk(0))
        app.publish(talk(1))
        info = app.host.get("stubborn")
        await wait_until(lambda: seen == ["c0", "c1"], timeout=5)
        waited = loop.time() - started
        assert 0.2 <= waited < 5  # cut after the 0.2 s timeout, long before its 30 s sleep
        assert info.errors == 1
        assert info.last_error == "medlytt_event: timed out after 0.2 s"
        await app.settle()
        assert info.breaker.state == "closed"  # c1 succeeded after the timeout
        assert app.metric("medlytt_plugin_errors_total", {"plugin": "stubborn"}) == 1


async def test_a_failing_startup_hook_does_not_stop_the_core(medlytt):
    class BrokenStartup:
        from medlytt import hookimpl

        @hookimpl
        async def medlytt_startup(self, app):
            raise RuntimeError("cannot start")

    async with medlytt(plugins=[("broken", BrokenStartup()), ("recorder", recorder)]) as app:
        app.publish(talk(1))
        await app.settle()
        assert len(app.plugin_state["recorder"]) == 1
        assert app.metric("medlytt_plugin_errors_total", {"plugin": "broken"}) == 1


def test_medlytt_plugins_shows_an_open_breaker_of_a_running_server(serve):
    server = serve(
        MEDLYTT_PLUGINS__MODULES='["sample_plugins.failing"]',
        MEDLYTT_PLUGINS__BREAKER_FAILURES="2",
        MEDLYTT_DEMO__SPEED="50",
    )

    token = server.admin_token()

    def failing_breaker() -> str:
        request = urllib.request.Request(
            server.url + "/api/plugins", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=5) as r:
            plugins = {p["name"]: p for p in json.load(r)["plugins"]}
        return plugins["failing"]["breaker"] == "open"

    poll_until(failing_breaker, timeout=15, what="breaker of the failing plugin open")
    result = subprocess.run(
        [MEDLYTT, "plugins", "--url", server.url],
        env=medlytt_env(MEDLYTT_TOKEN=token),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    line = next(li for li in result.stdout.splitlines() if li.startswith("failing"))
    assert "BREAKER OPEN" in line
    assert "failing plugin cannot handle" in line
    assert server.terminate() == 0
    assert "circuit breaker OPEN" in server.log.read_text()
