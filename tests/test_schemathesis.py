"""Schemathesis over every OpenAPI document in docs/openapi/, against a real Medlytt.

For each document in that folder (today monitoring, mystery calls, surveys) and each of
two callers, an admin and an agent, schemathesis generates requests from the document
(its examples, the coverage phase's edge cases and undocumented methods, and fuzzed
valid and invalid requests) and sends them to a running Medlytt on localhost that holds
a result, surveys, a campaign and audit rows. This proves, for every operation:

- no answer is a server error, except a documented 503 (no PBX is configured here, so a
  request that would place or monitor a call is refused with 503);
- every status is one the document lists for that operation (401, 403 and 422 included),
  with the documented content type and headers;
- every body matches the documented schema, ``null`` included where a field may be null;
- requests that break the schema are refused with a 4xx, and without a token with 401;
- a method the document does not list is answered 405 with ``Allow``.

Bounded and reproducible: a fixed seed, derandomized generation and a few examples per
operation.  Schemathesis runs in a worker thread while the app serves on the test's loop.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import schemathesis
from medlytt.clock import utcnow
from medlytt.events import QueueConfigured
from medlytt.plugins.monitoring import store as audit_store
from medlytt.plugins.mystery_calls import store as mystery_store
from medlytt.plugins.surveys import store as survey_store
from medlytt.testing import add_user_with_token
from schemathesis.engine import events, from_schema
from support import ROOT

OPENAPI = ROOT / "docs" / "openapi"
#: Every document in the folder: one added there is fuzzed without touching this test.
DOCUMENTS = tuple(sorted(path.stem for path in OPENAPI.glob("*.json")))
SECTIONS = {
    "mystery_calls": {"queue_numbers": {"support": "500"}},
    "surveys": {
        "questions": [{"id": "satisfaction", "prompt": "sound:beep"}],
        "queues": {"support": {"every": 1}},
    },
}
#: The caller's agent id; another agent's rows are there too (a 403 for ``?agent=`` of theirs).
AGENT, OTHER = "PJSIP/1001", "PJSIP/1002"
MAX_EXAMPLES = 25

#: The checks run on every answer (schemathesis' names).  Left out:
#: ``positive_data_acceptance`` (a request the schema allows may still be refused with 422
#: for what no schema can say, e.g. an unknown queue, or a campaign without a target) and
#: ``max_response_time`` (timing is not a property).
CHECKS = (
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "ignored_auth",
    "use_after_free",
    "ensure_resource_availability",
    "unsupported_method",
    "allow_header_conformance",
)
#: No server error but 503, which only the operations that need a PBX document.
NOT_A_SERVER_ERROR = {"enabled": True, "expected-statuses": ["2xx", "3xx", "4xx", 503]}


def config(base_url: str, token: str) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": 11,
            "base-url": base_url,
            "headers": {"Authorization": f"Bearer {token}"},
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "checks": {
                "enabled": False,
                "not_a_server_error": NOT_A_SERVER_ERROR,
                **{name: {"enabled": True} for name in CHECKS},
            },
            "phases": {"stateful": {"enabled": False}},
        }
    )


def run(document: str, base_url: str, token: str) -> tuple[list[str], set[str]]:
    """Run schemathesis over ``document``; the failures (one line per failing check and
    operation, with a curl command to reproduce it), and the checks that ran."""
    spec = json.loads((OPENAPI / f"{document}.json").read_text())
    schema = schemathesis.openapi.from_dict(spec, config=config(base_url, token))
    failures, ran, _ = outcome(schema)
    return failures, ran


def outcome(schema: Any) -> tuple[list[str], set[str], int]:
    """Run schemathesis over a loaded ``schema``: the failures (one line per failing check
    and operation, with a curl command to reproduce it), the checks that ran, and how many
    operations were tested."""
    failures: dict[tuple[str, str, str], str] = {}
    ran: set[str] = set()
    tested: set[str] = set()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            tested.add(recorder.label)
            for nodes in recorder.checks.values():
                for node in nodes:
                    ran.add(node.name)
                    if node.failure_info is None:
                        continue
                    failure = node.failure_info.failure
                    key = (recorder.label, node.name, failure.title)
                    failures.setdefault(
                        key,
                        f"{recorder.label}: {node.name}: {failure.title}: "
                        f"{failure.message.strip()}\n    {node.failure_info.code_sample}",
                    )
        elif isinstance(event, events.NonFatalError | events.FatalError):
            failures[("error", repr(event), "")] = f"schemathesis error: {event!r}"
    return list(failures.values()), ran, len(tested)


def fill(db: Any) -> None:
    """Rows for the answers to carry: a finished, evaluated mystery call answered by each
    agent, a survey of each, and a monitoring session's audit rows about each."""
    now = utcnow().isoformat()
    for number, agent in enumerate((AGENT, OTHER)):
        mystery_store.insert_call(
            db,
            {
                "id": f"m{number}",
                "campaign": None,
                "target": "queue:support",
                "number": "500",
                "mode": "scripted",
                "caller_id": "Medlytt mystery",
                "requested_by": "ada",
                "started_at": now,
                "finished_at": now,
                "outcome": "answered",
                "reason": None,
                "call_id": f"c{number}",
                "queue": "support",
                "agent_id": agent,
                "ring_seconds": 1.0,
                "queue_seconds": 4.0,
                "answer_seconds": 5.5,
                "talk_seconds": 30.0,
                "recording_id": None,
                "evaluated_at": now,
                "evaluation_id": "e1",
                "notes": None,
            },
        )
        survey_store.save_survey(
            db,
            {
                "id": f"s{number}",
                "call_id": f"c{number}",
                "queue": "support",
                "agent_id": agent,
                "started_at": now,
                "finished_at": now,
                "result": "completed",
            },
            {"satisfaction": str(4 + number)},
        )
        session = {
            "session_id": f"session{number}",
            "supervisor": "sue",
            "agent_id": agent,
            "call_id": f"c{number}",
            "mode": "listen",
        }
        audit_store.append_audit(db, {**session, "at": now, "action": "started", "recording": 0})
        audit_store.append_audit(
            db,
            {**session, "at": now, "action": "stopped", "reason": "stopped", "duration_seconds": 3},
        )


@pytest.mark.parametrize("role", ["admin", "agent"])
@pytest.mark.parametrize("document", DOCUMENTS)
async def test_the_api_keeps_its_openapi_document(medlytt, medlytt_client, document, role):
    async with medlytt(SECTIONS) as app:
        app.publish(QueueConfigured(at=utcnow(), source="test", queue="support"))
        await app.settle()
        add_user_with_token(app, "ola", "agent", agent_id=OTHER)
        app.storage.run_sync(fill)
        client = await medlytt_client(app)  # an admin's client, to set up a campaign
        campaign = {"name": "weekly", "queue": "support", "schedule": "0 9 * * 1-5"}
        created = await client.post("/api/mystery-campaigns", json=campaign)
        assert created.status == 201, await created.text()
        if role == "agent":
            token = add_user_with_token(app, "ingrid", "agent", agent_id=AGENT)
        else:
            token = add_user_with_token(app, "ada", "admin")
        base_url = str(client.make_url("")).rstrip("/")

        failures, ran = await asyncio.to_thread(run, document, base_url, token)

    assert not failures, "\n\n".join(failures)
    assert ran == {"not_a_server_error", *CHECKS}
