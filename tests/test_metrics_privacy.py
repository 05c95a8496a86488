"""``/metrics`` carries no person's name and no phone number (issue 11).

Prometheus keeps what it scrapes for weeks, outside Medlytt's access rules, and may be
scraped without a token: a label value that names an agent or a caller would leak the very
thing the API guards.  Agent ids (interfaces such as ``PJSIP/1001``) may appear; names and
numbers may not.  The scenario has every kind of person data Medlytt holds: the demo's
agents with full names and its callers with numbers, a call of our own, and users with
phone numbers.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from medlytt import events as ev
from medlytt import journal_events, utcnow
from medlytt.events import AgentState
from medlytt.testing import add_user_with_token

AGENT_NAME = "Ingrid Marie Berg"
CALLER = "+4798765432"
USER_PHONE = "+4791234567"


def person_data(rows: list[tuple[int, object]]) -> tuple[set[str], set[str]]:
    """The full names and caller numbers in journalled events."""
    names: set[str] = set()
    numbers: set[str] = set()
    for _, event in rows:
        name = getattr(event, "name", None)
        caller = getattr(event, "caller_id", None)
        if isinstance(name, str) and " " in name:
            names.add(name)
        if isinstance(caller, str) and caller:
            numbers.add(caller)
    return names, numbers


async def people_in_the_journal(app, callers: int) -> tuple[set[str], set[str]]:
    """The names and numbers journalled so far, once the demo has queued ``callers`` calls
    (it publishes its back-filled history in the background after start)."""
    deadline = time.monotonic() + 30
    while True:
        await app.settle()
        rows = await journal_events(app, ["agent.state_changed", "call.queued"])
        names, numbers = person_data(rows)
        if len(numbers) >= callers or time.monotonic() > deadline:
            return names, numbers
        await asyncio.sleep(0.1)


async def test_metrics_name_no_person_and_no_phone_number(medlytt, medlytt_client):
    sections = {
        "demo": {"enabled": True, "speed": 30, "seed": 7, "history_hours": 0.5},
        # Per-agent series on, so the agent label is on the page and could leak a name.
        "queue_metrics": {"occupancy_agents_max": 100},
    }
    async with medlytt(sections) as app:
        now = utcnow()
        app.publish(
            ev.AgentStateChanged(
                at=now,
                source="t",
                agent_id="PJSIP/1001",
                state=AgentState.AVAILABLE,
                name=AGENT_NAME,
                queues=("support",),
            )
        )
        queued = now - timedelta(seconds=20)
        app.publish(
            ev.CallQueued(at=queued, source="t", call_id="c1", queue="support", caller_id=CALLER)
        )
        app.publish(
            ev.AgentOffered(
                at=now, source="t", call_id="c1", queue="support", agent_id="PJSIP/1001"
            )
        )
        app.publish(
            ev.CallAnswered(
                at=now,
                source="t",
                call_id="c1",
                queue="support",
                agent_id="PJSIP/1001",
                wait_seconds=20,
            )
        )
        add_user_with_token(app, "ingrid", "agent", agent_id="PJSIP/1001", phone=USER_PHONE)
        add_user_with_token(app, "sup", "supervisor", teams=["a"], phone="+4722334455")
        names, numbers = await people_in_the_journal(app, callers=12)
        assert AGENT_NAME in names and CALLER in numbers
        assert len(names) >= 10 and len(numbers) >= 10, "the demo produced too little to check"
        numbers |= {USER_PHONE, "+4722334455"}

        client = await medlytt_client(app)
        response = await client.get("/metrics")
        assert response.status == 200
        text = await response.text()

        # The per-agent series are there (so the check below looks where a name could be).
        assert 'agent="PJSIP/1001"' in text
        leaked_names = sorted(n for n in names if n in text)
        leaked_numbers = sorted(n for n in numbers if n in text or n.lstrip("+") in text)
        assert leaked_names == [], f"/metrics names people: {leaked_names}"
        assert leaked_numbers == [], f"/metrics carries phone numbers: {leaked_numbers}"
