from datetime import timedelta

from medlytt import events as ev
from medlytt.clock import utcnow
from medlytt.events import AgentState


async def test_api_routes_describe_the_live_state(medlytt, medlytt_client):
    async with medlytt() as app:
        now = utcnow()
        app.publish(
            ev.AgentStateChanged(
                at=now,
                source="t",
                agent_id="PJSIP/1001",
                state=AgentState.AVAILABLE,
                name="Ingrid Berg",
                queues=("support",),
            )
        )
        queued = now - timedelta(seconds=30)
        app.publish(ev.CallQueued(at=queued, source="t", call_id="c1", queue="support"))
        client = await medlytt_client(app)

        queues = (await (await client.get("/api/queues")).json())["queues"]
        # The oldest call has waited since it queued, up to now (not up to the last event).
        assert 30 <= queues[0].pop("longest_wait_seconds") < 40
        assert queues == [
            {
                "name": "support",
                "strategy": "unknown",
                "service_level_seconds": None,
                "waiting": 1,
                "agents": {"available": 1},
            }
        ]
        agents = (await (await client.get("/api/agents")).json())["agents"]
        assert agents[0]["name"] == "Ingrid Berg"
        calls = (await (await client.get("/api/calls")).json())["calls"]
        assert calls[0]["call_id"] == "c1"
        index = await (await client.get("/api")).json()
        assert "GET /api/events" in index["routes"]
        assert index["demo"] is False


async def test_unknown_route_is_a_json_error(medlytt, medlytt_client):
    async with medlytt() as app:
        client = await medlytt_client(app)
        response = await client.get("/api/nope")
        assert response.status == 404
        assert (await response.json())["status"] == 404


async def test_not_ready_without_a_gateway(medlytt, medlytt_client):
    async with medlytt() as app:
        client = await medlytt_client(app)
        response = await client.get("/readyz")
        assert response.status == 503
        assert (await response.json())["checks"]["gateways"] is False
        assert (await client.get("/healthz")).status == 200


async def test_metrics_exposition(medlytt, medlytt_client):
    async with medlytt() as app:
        client = await medlytt_client(app)
        response = await client.get("/metrics")
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await response.text()
        assert "medlytt_build_info{version=" in text
        assert "_created" not in text


async def test_the_demo_says_what_call_control_it_lacks_and_features_answer_503(
    medlytt, medlytt_client
):
    from medlytt import auth

    async with medlytt({"demo": {"enabled": True, "speed": 1}}) as app:
        client = await medlytt_client(app)
        [gateway] = (await (await client.get("/api/gateways")).json())["gateways"]
        assert gateway["name"] == "demo" and gateway["call_control"] == []
        assert {"snoop", "originate", "record", "play"} <= set(gateway["call_control_lacks"])

        def admin(db):
            auth.add_user(db, "ada", "admin", phone="PJSIP/2001")
            return auth.create_token(db, "ada")[1]

        headers = {"Authorization": f"Bearer {app.storage.run_sync(admin)}"}
        monitor = await client.post("/api/monitor", json={"agent": "x"}, headers=headers)
        assert monitor.status == 503
        assert "which gateway demo lacks" in (await monitor.json())["error"]
        mystery = await client.post("/api/mystery-calls", json={"number": "555"}, headers=headers)
        assert mystery.status == 503
        body = await mystery.json()
        assert "mystery calls: needs call control (" in body["error"]
        assert "which gateway demo lacks" in body["error"]


async def test_a_scrape_token_guards_metrics_as_bearer_or_basic_password(medlytt, medlytt_client):
    import base64

    async with medlytt({"server": {"metrics_token": "s3cret-scrape"}}) as app:
        client = await medlytt_client(app, role=None)
        refused = await client.get("/metrics")
        assert refused.status == 401 and "Bearer" in refused.headers["WWW-Authenticate"]
        assert "s3cret" not in await refused.text()
        bearer = await client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"})
        assert bearer.status == 200 and "medlytt_events_total" in await bearer.text()
        basic = base64.b64encode(b"prometheus:s3cret-scrape").decode()
        ok = await client.get("/metrics", headers={"Authorization": f"Basic {basic}"})
        assert ok.status == 200
        wrong = base64.b64encode(b"prometheus:guess").decode()
        assert (
            await client.get("/metrics", headers={"Authorization": f"Basic {wrong}"})
        ).status == 401
        admin = await medlytt_client(app)  # a user's API token is not a scrape token
        assert (await admin.get("/metrics")).status == 401
    async with medlytt() as app:  # no token configured: open, as Prometheus expects by default
        client = await medlytt_client(app, role=None)
        assert (await client.get("/metrics")).status == 200


async def test_a_wrong_method_is_405_with_allow(medlytt, medlytt_client):
    async with medlytt() as app:
        client = await medlytt_client(app)
        response = await client.delete("/api/queues")
        assert response.status == 405
        assert "GET" in response.headers["Allow"]
        assert (await response.json())["status"] == 405


async def test_the_database_and_recordings_are_private_to_medlytts_user(medlytt, tmp_path):
    from medlytt import save_recording

    async with medlytt() as app:
        recording = await save_recording(
            app, b"RIFF....WAVE", source="t", call_id="c1", agent_id="A1"
        )
        folder = tmp_path / "recordings"
        assert (tmp_path / "medlytt.db").stat().st_mode & 0o777 == 0o600
        assert folder.stat().st_mode & 0o777 == 0o700
        assert (folder / f"{recording}.wav").stat().st_mode & 0o777 == 0o600


async def test_an_older_installs_database_and_recordings_are_made_private_on_start(
    medlytt, tmp_path, caplog
):
    """A database and recordings made before Medlytt made its files private (0644, a 0755
    folder) are tightened when Medlytt opens them, -wal and -shm included, and it says so."""
    import logging
    import sqlite3

    db = tmp_path / "medlytt.db"
    other = sqlite3.connect(db)  # a reader (sqlite-utils, a backup) keeps -wal and -shm
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("CREATE TABLE older (x)")
    folder = tmp_path / "recordings"
    folder.mkdir()
    (folder / "older.wav").write_bytes(b"RIFF....WAVE")
    files = [db, tmp_path / "medlytt.db-wal", tmp_path / "medlytt.db-shm", folder / "older.wav"]
    for path in files:
        path.chmod(0o644)
    folder.chmod(0o755)
    caplog.set_level(logging.INFO, logger="medlytt.storage")
    try:
        async with medlytt():
            assert {path.name: path.stat().st_mode & 0o777 for path in files} == {
                path.name: 0o600 for path in files
            }
            assert folder.stat().st_mode & 0o777 == 0o700
    finally:
        other.close()
    said = [r.getMessage() for r in caplog.records if "made" in r.getMessage()]
    assert len(said) == 2, said  # once for the database's files, once for the folder
    assert "medlytt.db-wal (0644)" in said[0] and "0755 -> 0700, 1 files" in said[1]


async def test_known_labelled_series_start_at_zero(medlytt):
    """Every loaded plugin's health series exist at 0 from the first scrape, so that
    ``rate()`` and ``increase()`` see its first error, drop or open breaker (Prometheus:
    initialise label values known at start)."""
    per_plugin = (
        "medlytt_plugin_errors_total",
        "medlytt_plugin_breaker_open",
        "medlytt_plugin_events_dropped_total",
    )
    async with medlytt() as app:
        plugins = [info.name for info in app.host.plugins()]
        assert {"monitoring", "queue_metrics", "surveys", "console", "asterisk"} <= set(plugins)
        for series in per_plugin:
            for plugin in plugins:
                assert app.metric(series, {"plugin": plugin}) == 0, (series, plugin)
