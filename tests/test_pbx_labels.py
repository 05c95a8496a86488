"""With several PBXs the PBX is a prefix in label values, not a ``pbx`` label (issue 10).

docs/prometheus.md tells users to select a site with ``queue=~"oslo:.*"`` or to make a
``pbx`` label with ``label_replace``; both only work if the series look as documented.  The
events here go through the Asterisk gateway's own :class:`Qualifier`, as a named PBX's do
(the real two-sandbox run is tests/asterisk/test_several_pbxs.py).
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from medlytt import events as ev
from medlytt import utcnow
from medlytt.events import AgentState
from medlytt.gateways.asterisk.qualify import Qualifier
from prometheus_client.parser import text_string_to_metric_families

DOC = Path(__file__).resolve().parent.parent / "docs" / "prometheus.md"


def one_call_per_pbx(app) -> None:
    """A queue ``support`` and an agent ``PJSIP/1001`` on both PBXs; one answered call each."""
    now = utcnow()
    for pbx in ("oslo", "bergen"):
        site = Qualifier(pbx)
        for event in (
            ev.QueueConfigured(at=now, source="asterisk", queue="support"),
            ev.AgentStateChanged(
                at=now,
                source="asterisk",
                agent_id="PJSIP/1001",
                state=AgentState.AVAILABLE,
                queues=("support",),
            ),
            ev.CallQueued(
                at=now - timedelta(seconds=9), source="asterisk", call_id="1.1", queue="support"
            ),
            ev.CallAnswered(
                at=now,
                source="asterisk",
                call_id="1.1",
                queue="support",
                agent_id="PJSIP/1001",
                wait_seconds=9,
            ),
        ):
            app.publish(site.event(event))


def documented(selector: str) -> bool:
    return f"`{selector}`" in DOC.read_text()


async def test_the_pbx_is_a_prefix_in_label_values_as_documented(medlytt, medlytt_client):
    async with medlytt({"queue_metrics": {"occupancy_agents_max": 10}}) as app:
        one_call_per_pbx(app)
        await app.settle()
        client = await medlytt_client(app)
        text = await (await client.get("/metrics")).text()

    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    assert not [s for s in samples if "pbx" in s.labels], "a pbx label appeared"
    queues = {s.labels["queue"] for s in samples if s.name == "medlytt_queue_calls_total"}
    assert queues == {"oslo:support", "bergen:support"}
    answered = {
        s.labels["queue"]: s.value
        for s in samples
        if s.name == "medlytt_queue_calls_total" and s.labels["outcome"] == "answered"
    }
    assert answered == {"oslo:support": 1, "bergen:support": 1}
    agents = {s.labels["agent"] for s in samples if s.name == "medlytt_agent_occupancy_ratio"}
    assert agents == {"oslo:PJSIP/1001", "bergen:PJSIP/1001"}
    sources = {s.labels["source"] for s in samples if s.name == "medlytt_events_total"}
    assert sources == {"oslo", "bergen"}

    # The page shows these very series, and its label_replace makes the pbx label from them.
    for selector in (
        'medlytt_queue_calls_total{queue="oslo:support"}',
        'medlytt_queue_calls_total{queue="bergen:support"}',
        'medlytt_agent_occupancy_ratio{agent="oslo:PJSIP/1001"}',
        'medlytt_events_total{source="oslo"}',
    ):
        assert documented(selector), f"docs/prometheus.md does not show {selector}"
    assert "no separate `pbx` label" in " ".join(DOC.read_text().split())
    call = re.search(
        r'label_replace\(medlytt_queue_calls_waiting, "pbx", "\$1", "queue", "([^"]+)"\)',
        DOC.read_text(),
    )
    assert call, "the per-PBX label_replace query is gone from docs/prometheus.md"
    regex = re.compile(call.group(1))  # Prometheus anchors it at both ends: fullmatch
    waiting = {s.labels["queue"] for s in samples if s.name == "medlytt_queue_calls_waiting"}
    pbxs = {m.group(1) for q in waiting if (m := regex.fullmatch(q))}
    assert pbxs == {"oslo", "bergen"}
    site = re.compile("oslo:.*")  # the documented one-site selector, queue=~"oslo:.*"
    assert 'queue=~"oslo:.*"' in DOC.read_text()
    assert {q for q in queues if site.fullmatch(q)} == {"oslo:support"}
