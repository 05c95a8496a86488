"""The pickup module: answers after a long ring, and calls let ring out, per agent.

Answering promptly is the first thing a caller hears of an agent's phone technique.  For
the agents of the teams that have the module switched on, this plugin counts the calls
answered, those answered only after ringing longer than ``[pickup] slow_after_seconds``,
and the offers the agent let ring out; a coach reads them at ``GET /api/pickup``,
Prometheus the slow answers per queue.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import msgspec
from aiohttp import web
from medlytt import (
    AgentRingNoAnswer,
    CallAnswered,
    CompetenceModule,
    Medlytt,
    PositiveFloat,
    allow,
    authenticate,
    hookimpl,
    json_response,
    listens_to,
    medlytt_of,
    scope_of,
)
from prometheus_client import CollectorRegistry, Counter

NAME = "pickup"
MODULE = CompetenceModule(
    id="pickup",
    number=8,  # the method's modules are 1-7; a third party's take 8 and above
    title="Prompt pickup",
    titles={"nb": "Rask svar"},
    summary="Calls answered after a long ring, and offers let ring out, per agent.",
    measures=("medlytt_pickup_slow_answers_total",),
)


class Settings(msgspec.Struct, forbid_unknown_fields=True):
    """``[pickup]``: when an answer counts as slow."""

    #: An agent who lets the phone ring longer than this before answering answered slowly.
    slow_after_seconds: PositiveFloat = 10.0


@hookimpl
def medlytt_config_schema() -> type[Settings]:
    return Settings


@hookimpl
def medlytt_competence_modules() -> list[CompetenceModule]:
    return [MODULE]


@dataclass
class AgentPickup:
    """One agent's counts since ``at``, when Medlytt first saw the agent offered a call."""

    agent_id: str
    at: str
    answered: int = 0
    slow: int = 0
    rang_out: int = 0


class Pickup:
    """What the plugin keeps for one running Medlytt (``app.plugin_state["pickup"]``)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.slow_answers = Counter(
            "medlytt_pickup_slow_answers_total",
            "Calls answered after ringing longer than [pickup] slow_after_seconds.",
            ["queue"],
            registry=registry,
        )
        self.agents: dict[str, AgentPickup] = {}

    def agent(self, agent_id: str, at: str) -> AgentPickup:
        return self.agents.setdefault(agent_id, AgentPickup(agent_id=agent_id, at=at))


@hookimpl
def medlytt_metrics(registry: CollectorRegistry, app: Medlytt) -> None:
    app.plugin_state[NAME] = Pickup(registry)


@hookimpl
@listens_to(CallAnswered, AgentRingNoAnswer)
def medlytt_event(event: CallAnswered | AgentRingNoAnswer, app: Medlytt) -> None:
    if not app.modules.active_for_agent(MODULE.id, event.agent_id):
        return  # the module is not on for this agent's team
    pickup: Pickup = app.plugin_state[NAME]
    agent = pickup.agent(event.agent_id, event.at.isoformat())
    if isinstance(event, AgentRingNoAnswer):
        agent.rang_out += 1
        return
    agent.answered += 1
    if event.ring_seconds > app.plugin_config(NAME).slow_after_seconds:
        agent.slow += 1
        pickup.slow_answers.labels(event.queue).inc()


@allow(
    "admin",
    "supervisor",
    "agent",
    rows="admin: all; supervisor: agents of own teams (all with no team); agent: own",
)
async def list_pickup(request: web.Request) -> web.Response:
    """Each agent's counts, only the agents the caller may see."""
    app = medlytt_of(request)
    scope = await scope_of(app, await authenticate(request))
    pickup: Pickup = app.plugin_state[NAME]
    rows = [asdict(agent) for _, agent in sorted(pickup.agents.items())]
    return json_response({"agents": scope.filter(rows)})


@hookimpl
def medlytt_routes(app: Medlytt) -> list[web.RouteDef]:
    return [web.get("/api/pickup", list_pickup)]
