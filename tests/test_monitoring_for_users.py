"""Monitoring on a user's behalf (``start_for_user``) refuses whoever may not monitor the
agent, before anything is asked of the PBX.

Mystery calls start live listening through this public service for the user who placed
the call (plugins/mystery_calls/service.py ``_listen``); the Asterisk tests cover the
allowed case.  Here, without a PBX, a call-control port that records every action stands
in for Asterisk: a refused user gets a 403, and the port, the sessions and the audit
trail show that nothing started.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from medlytt import AgentLeg, CallControlRefused, Capability, auth, utcnow
from medlytt.callcontrol import ALL_CAPABILITIES, NoCallControl
from medlytt.plugins.monitoring import store as audit_store
from medlytt.plugins.monitoring.service import MonitoringError
from medlytt.plugins.mystery_calls.call import MysteryCall
from medlytt.plugins.mystery_calls.model import CallSpec
from medlytt.testing import add_user_with_token

AGENT = "PJSIP/1001"
CALL = "1700000000.1"
SUPERVISOR_PHONE = "PJSIP/2001"


class RecordingPort(NoCallControl):
    """A connected PBX with one answered call (``CALL``, agent ``AGENT``) that refuses,
    and writes down, every action: an empty ``acted`` means nothing was started."""

    capabilities = ALL_CAPABILITIES

    def __init__(self) -> None:
        super().__init__("asterisk")
        self.acted: list[Capability] = []

    @property
    def connected(self) -> bool:
        return True

    def call_leg(self, call_id: str) -> AgentLeg | None:
        return (
            AgentLeg(call_id=CALL, agent_id=AGENT, channel="PJSIP/1001-0001")
            if call_id == CALL
            else None
        )

    def agent_leg(self, agent_id: str) -> AgentLeg | None:
        return self.call_leg(CALL) if agent_id == AGENT else None

    def _no(self, capability: Capability) -> CallControlRefused:  # type: ignore[override]
        self.acted.append(capability)
        return CallControlRefused(f"fake {capability.value}", "this fake PBX does nothing")


@pytest.fixture
async def monitoring(medlytt):
    """The running monitoring service, users of teams a and b, and the recording port."""
    async with medlytt() as app:
        add_user_with_token(app, "agent-a", "agent", teams=["a"], agent_id=AGENT)
        add_user_with_token(app, "sup-a", "supervisor", teams=["a"])
        add_user_with_token(app, "sup-b", "supervisor", teams=["b"])
        add_user_with_token(app, "gone-a", "supervisor", teams=["a"])
        app.storage.run_sync(lambda db: auth.disable_user(db, "gone-a"))
        port = RecordingPort()
        app.gateways = [SimpleNamespace(name="asterisk", call_control=port)]  # type: ignore[list-item]
        try:
            yield app, app.service("monitoring"), port
        finally:
            app.gateways = []  # the fake gateway is neither run nor stopped


def audit_rows(app) -> int:
    return app.storage.run_sync(lambda db: db[audit_store.AUDIT].count)


@pytest.mark.parametrize(
    ("user", "reason"),
    [
        ("agent-a", "user 'agent-a' may not monitor calls"),  # the agent role, even their own
        ("sup-b", f"sup-b may not monitor agent {AGENT}"),  # a supervisor of another team
        ("nobody", "user 'nobody' may not monitor calls"),  # no such user
        ("gone-a", "user 'gone-a' may not monitor calls"),  # disabled
    ],
)
async def test_a_user_who_may_not_monitor_the_agent_is_refused_and_nothing_starts(
    monitoring, user, reason
):
    app, service, port = monitoring
    with pytest.raises(MonitoringError) as refused:
        await service.start_for_user(user, endpoint=SUPERVISOR_PHONE, call_id=CALL)
    assert (refused.value.status, str(refused.value)) == (403, reason)
    assert port.acted == [] and service.sessions == {} and audit_rows(app) == 0
    assert port.watched == {}


async def test_the_supervisor_of_the_agents_team_gets_as_far_as_the_pbx(monitoring):
    """The counterpart: the same request for an allowed user passes the checks and asks
    the PBX for the session (which this fake refuses), so the refusals above are the
    authorisation's."""
    app, service, port = monitoring
    with pytest.raises(CallControlRefused):
        await service.start_for_user("sup-a", endpoint=SUPERVISOR_PHONE, call_id=CALL)
    assert Capability.SNOOP in port.acted
    assert service.sessions == {} and audit_rows(app) == 0


async def test_a_mystery_call_listened_to_for_another_team_starts_nothing(monitoring, caplog):
    """The path mystery calls take: an answered call with ``listen`` asks monitoring on
    behalf of the user who placed it; a supervisor of another team is refused, the
    refusal is logged and the mystery call goes on."""
    app, _, port = monitoring
    mystery = app.plugin_state["mystery_calls"][0]
    call = MysteryCall(
        id="m1",
        spec=CallSpec(queue="support", listen=SUPERVISOR_PHONE),
        target="queue:support",
        number="500",
        endpoint="Local/500@mystery/n",
        caller_id="Mystery",
        campaign=None,
        requested_by="sup-b",
        started_at=utcnow(),
    )
    call.call_id = CALL
    with caplog.at_level(logging.WARNING):
        await mystery._listen(call)
    assert f"live listening could not start: sup-b may not monitor agent {AGENT}" in caplog.text
    assert port.acted == [] and audit_rows(app) == 0
