"""Schemathesis over the generated OpenAPI document (every route without a hand-written
one, docs/openapi/generated/medlytt.json), against a real Medlytt: no route answers 5xx.

The generated document knows each route's path, method, path and query parameters and
access rule, not its body schema (bodies are "any JSON object", or form fields for the
console's forms), so the one property that holds for every route is checked: whatever
schemathesis sends (its coverage phase's edge cases and fuzzed valid and invalid
requests), as an admin and as an agent, the answer is never a server error, but the
503 a route needing a PBX gives when none is configured.  A method the document does
not list for a path is refused (no path is shared with a hand-written document, so
every other method really is unserved).  ``Allow`` is not compared with the document:
some paths match two templates (``/api/behaviour-types/agents`` is also a call id for
``POST /api/behaviour-types/{call_id}``), so aiohttp lists both routes' methods.

Same app and rows as tests/test_schemathesis.py; bounded and reproducible: a fixed seed,
derandomized generation and a few examples per operation.
"""

from __future__ import annotations

import asyncio
import json

import pytest
import schemathesis
from medlytt.clock import utcnow
from medlytt.events import QueueConfigured
from medlytt.route_reference import GENERATED, documented_by_hand
from medlytt.testing import add_user_with_token
from support import ROOT
from test_schemathesis import AGENT, NOT_A_SERVER_ERROR, OTHER, SECTIONS, fill, outcome

DOCUMENT = ROOT / "docs" / GENERATED
MAX_EXAMPLES = 4
CHECKS = ("unsupported_method",)
#: Operations not sent: a stream that never ends (schemathesis would wait on it forever;
#: tests/test_console.py reads its events).
STREAMS = ("/console/live",)


def config(base_url: str, token: str) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": 11,
            "base-url": base_url,
            "headers": {"Authorization": f"Bearer {token}"},
            "request-timeout": 20,
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


def run(base_url: str, token: str) -> tuple[list[str], set[str], int]:
    """Run schemathesis over the generated document (what :func:`outcome` returns)."""
    spec = json.loads(DOCUMENT.read_text())
    schema = schemathesis.openapi.from_dict(spec, config=config(base_url, token))
    schema = schema.exclude(path=list(STREAMS))
    return outcome(schema)


def test_no_path_is_shared_with_a_hand_written_document():
    """The 405 check is sound only when the generated document lists every method a path
    is served with: no path may be split between it and a hand-written document."""
    generated = set(json.loads(DOCUMENT.read_text())["paths"])
    by_hand = {path for _, path in documented_by_hand(ROOT / "docs")}
    assert generated and by_hand
    assert generated & by_hand == set()


@pytest.mark.parametrize("role", ["admin", "agent"])
async def test_no_route_answers_a_server_error(medlytt, medlytt_client, role):
    async with medlytt(SECTIONS) as app:
        app.publish(QueueConfigured(at=utcnow(), source="test", queue="support"))
        await app.settle()
        add_user_with_token(app, "ola", "agent", agent_id=OTHER)
        app.storage.run_sync(fill)
        client = await medlytt_client(app)
        if role == "agent":
            token = add_user_with_token(app, "ingrid", "agent", agent_id=AGENT)
        else:
            token = add_user_with_token(app, "ada", "admin")
        base_url = str(client.make_url("")).rstrip("/")

        failures, ran, tested = await asyncio.to_thread(run, base_url, token)

    assert not failures, "\n\n".join(failures)
    assert ran == {"not_a_server_error", *CHECKS}
    operations = sum(len(item) for item in json.loads(DOCUMENT.read_text())["paths"].values())
    assert tested == operations - len(STREAMS)
