"""The pickup plugin, installed (`pip install -e .`), in a real Medlytt."""

from medlytt import AgentRingNoAnswer, CallAnswered, utcnow
from medlytt.testing import add_user_with_token


def answered(call_id: str, agent_id: str, ring_seconds: float) -> CallAnswered:
    return CallAnswered(
        at=utcnow(),
        source="test",
        call_id=call_id,
        queue="support",
        agent_id=agent_id,
        wait_seconds=5.0,
        ring_seconds=ring_seconds,
    )


async def test_slow_answers_and_rang_out_offers_are_counted(medlytt, medlytt_client):
    async with medlytt({"pickup": {"slow_after_seconds": 8}}) as app:
        add_user_with_token(app, "ingrid", "agent", teams=["support-a"], agent_id="PJSIP/1001")
        add_user_with_token(app, "lars", "agent", teams=["support-a"], agent_id="PJSIP/1002")
        client = await medlytt_client(app)  # an admin
        switch = await client.put("/api/teams/support-a/modules/pickup", json={"active": True})
        assert switch.status == 200
        app.publish(answered("c1", "PJSIP/1001", ring_seconds=3.0))
        app.publish(answered("c2", "PJSIP/1001", ring_seconds=12.0))
        app.publish(
            AgentRingNoAnswer(
                at=utcnow(),
                source="test",
                call_id="c3",
                queue="support",
                agent_id="PJSIP/1002",
                ring_seconds=15.0,
            )
        )
        await app.settle()
        assert app.metric("medlytt_pickup_slow_answers_total", {"queue": "support"}) == 1
        body = await (await client.get("/api/pickup")).json()
        counts = {a["agent_id"]: (a["answered"], a["slow"], a["rang_out"]) for a in body["agents"]}
        assert counts == {"PJSIP/1001": (2, 1, 0), "PJSIP/1002": (0, 0, 1)}


async def test_only_the_teams_with_the_module_on_are_measured(medlytt, medlytt_client):
    async with medlytt() as app:
        add_user_with_token(app, "ingrid", "agent", teams=["support-a"], agent_id="PJSIP/1001")
        add_user_with_token(app, "kai", "agent", teams=["sales"], agent_id="PJSIP/1003")
        client = await medlytt_client(app)
        await client.put("/api/teams/support-a/modules/pickup", json={"active": True})
        app.publish(answered("c1", "PJSIP/1001", ring_seconds=20.0))
        app.publish(answered("c2", "PJSIP/1003", ring_seconds=20.0))
        await app.settle()
        body = await (await client.get("/api/pickup")).json()
        assert [a["agent_id"] for a in body["agents"]] == ["PJSIP/1001"]


async def test_an_agent_sees_only_their_own_counts(medlytt, medlytt_client):
    async with medlytt() as app:
        token = add_user_with_token(
            app, "ingrid", "agent", teams=["support-a"], agent_id="PJSIP/1001"
        )
        add_user_with_token(app, "lars", "agent", teams=["support-a"], agent_id="PJSIP/1002")
        admin = await medlytt_client(app)
        await admin.put("/api/teams/support-a/modules/pickup", json={"active": True})
        app.publish(answered("c1", "PJSIP/1001", ring_seconds=3.0))
        app.publish(answered("c2", "PJSIP/1002", ring_seconds=3.0))
        await app.settle()
        client = await medlytt_client(app, role=None)
        response = await client.get("/api/pickup", headers={"Authorization": f"Bearer {token}"})
        assert response.status == 200
        assert [a["agent_id"] for a in (await response.json())["agents"]] == ["PJSIP/1001"]
        assert (await client.get("/api/pickup")).status == 401  # no token
