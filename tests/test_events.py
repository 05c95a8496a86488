from datetime import UTC, datetime

import msgspec
import pytest
from medlytt import events as ev

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_every_event_round_trips_through_json_with_its_type_tag():
    samples = {
        ev.CallAnswered: dict(
            call_id="c1", queue="support", agent_id="PJSIP/1001", wait_seconds=12.5
        ),
        ev.AgentStateChanged: dict(
            agent_id="PJSIP/1001", state=ev.AgentState.PAUSED, reason="lunch", queues=("support",)
        ),
        ev.CallTransferred: dict(
            call_id="c1", from_agent_id="PJSIP/1001", target="2002", kind="attended"
        ),
    }
    for cls, fields in samples.items():
        event = cls(at=AT, source="test", **fields)
        data = ev.encode_event(event)
        assert msgspec.json.decode(data)["type"] == ev.event_type_name(cls)
        assert ev.decode_event(data) == event


def test_events_are_immutable():
    event = ev.CallQueued(at=AT, source="test", call_id="c1", queue="q")
    with pytest.raises(AttributeError):
        event.queue = "other"


def test_event_type_tags_are_unique_and_dotted():
    tags = [ev.event_type_name(cls) for cls in ev.EVENT_TYPES]
    assert len(tags) == len(set(tags))
    assert all("." in tag for tag in tags)


def test_decoding_rejects_an_unknown_type():
    with pytest.raises(msgspec.ValidationError, match=r"Invalid value 'call\.teleported'"):
        ev.decode_event(b'{"type": "call.teleported", "at": "2026-11-23T09:00:00Z", "source": "x"}')


def test_issue_event_list_is_covered():
    """The core issue names these events; each must exist as a type of the core (the
    monitoring, mystery-call and survey events belong to their plugins:
    tests/test_plugin_events.py)."""
    required = {
        "call.queued",
        "agent.offered",
        "call.answered",
        "call.ended",
        "call.abandoned",
        "call.timed_out",
        "call.transferred",
        "agent.state_changed",
        "talk.started",
        "talk.stopped",
        "headset.hook",
        "headset.mute",
        "recording.ready",
    }
    assert required <= {ev.event_type_name(cls) for cls in ev.EVENT_TYPES}
    states = {s.value for s in ev.AgentState}
    assert {"logged_out", "available", "ringing", "on_call", "wrap_up", "paused"} == states


def test_every_core_event_type_is_in_the_public_api():
    import medlytt

    for cls in ev.EVENT_TYPES:
        assert getattr(medlytt, cls.__name__) is cls
