"""AMI translation cases the sandbox does not produce on its own: pauses, logins, wrap-up,
resync.  Messages are shaped like the ones recorded from Asterisk 22 (field names and
values as AMI sends them)."""

import time
from datetime import UTC, datetime

import pytest
from medlytt import events as ev
from medlytt.events import AgentState
from medlytt.gateways.asterisk.translate import AmiTranslator

IFACE = "PJSIP/1001"


def member(**fields: str) -> dict[str, str]:
    base = {
        "Event": "QueueMember",
        "Queue": "support",
        "Name": "1001",
        "Location": IFACE,
        "Status": "1",
        "Paused": "0",
        "PausedReason": "",
        "InCall": "0",
        "Timestamp": "1795427443.0",
    }
    return {**base, **fields}


def caller(event: str, ts: float, **fields: str) -> dict[str, str]:
    return {
        "Event": event,
        "Timestamp": str(ts),
        "Uniqueid": "u1",
        "Linkedid": "l1",
        "Queue": "support",
        "Interface": IFACE,
        "MemberName": "1001",
        **fields,
    }


def states(events: list[ev.Event]) -> list[tuple[AgentState, str | None]]:
    return [(e.state, e.reason) for e in events if isinstance(e, ev.AgentStateChanged)]


def test_member_pause_with_reason_and_unpause():
    t = AmiTranslator({IFACE: "Ingrid Berg"})
    announced = t.translate(member())
    assert announced[0].name == "Ingrid Berg" and announced[0].queues == ("support",)
    pause = {
        "Event": "QueueMemberPause",
        "Interface": IFACE,
        "Paused": "1",
        "PausedReason": "lunch",
    }
    assert states(t.translate(pause)) == [(AgentState.PAUSED, "lunch")]
    assert t.translate(pause) == []  # no change, no event
    assert states(t.translate({**pause, "Paused": "0"})) == [(AgentState.AVAILABLE, None)]


def test_pause_during_a_call_takes_effect_when_it_ends():
    t = AmiTranslator()
    t.translate(member())
    t.translate(caller("QueueCallerJoin", 100.0, Position="1"))
    t.translate(caller("AgentCalled", 100.1))
    t.translate(caller("AgentConnect", 102.0, HoldTime="2", RingTime="2"))
    pause = {
        "Event": "QueueMemberPause",
        "Interface": IFACE,
        "Paused": "1",
        "PausedReason": "coaching",
    }
    assert t.translate(pause) == []
    out = t.translate(caller("AgentComplete", 160.0, HoldTime="2", TalkTime="58", Reason="caller"))
    assert [e.type for e in out] == ["call.ended", "agent.state_changed"]
    assert states(out) == [(AgentState.PAUSED, "coaching")]
    assert out[0].talk_seconds == 58 and out[0].hung_up_by == "caller"


def test_unavailable_device_logs_the_agent_out_and_back_in():
    t = AmiTranslator()
    t.translate(member())
    status = {"Event": "QueueMemberStatus", "Interface": IFACE, "Queue": "support", "Status": "5"}
    assert states(t.translate(status)) == [(AgentState.LOGGED_OUT, None)]
    assert states(t.translate({**status, "Status": "1"})) == [(AgentState.AVAILABLE, None)]


def test_wrap_up_time_of_the_queue_is_honoured():
    t = AmiTranslator()
    t.translate(
        {
            "Event": "QueueParams",
            "Queue": "support",
            "Strategy": "rrmemory",
            "ServiceLevel": "20",
            "Wrapuptime": "15",
        }
    )
    t.translate(member())
    t.translate(caller("QueueCallerJoin", 100.0))
    t.translate(caller("AgentCalled", 100.0))
    t.translate(caller("AgentConnect", 101.0, HoldTime="1", RingTime="1"))
    out = t.translate(caller("AgentComplete", 130.0, HoldTime="1", TalkTime="29", Reason="agent"))
    assert states(out) == [(AgentState.WRAP_UP, None)]
    assert t.wrap_up_seconds("support") == 15
    done = t.end_wrap_up(IFACE, datetime.fromtimestamp(145.0, UTC))
    assert states(done) == [(AgentState.AVAILABLE, None)]


def test_resync_adds_waiting_callers_and_closes_vanished_calls():
    t = AmiTranslator()
    t.translate(member())
    t.translate(caller("QueueCallerJoin", 100.0))
    t.translate(caller("AgentCalled", 100.0))
    t.translate(caller("AgentConnect", 101.0, HoldTime="1", RingTime="1"))
    found = t.translate(
        {
            "Event": "QueueEntry",
            "Queue": "sales",
            "Uniqueid": "u2",
            "Linkedid": "l2",
            "Position": "1",
            "Wait": "12",
            "Timestamp": "200.0",
        }
    )
    assert isinstance(found[0], ev.CallQueued)
    assert found[0].at == datetime.fromtimestamp(188.0, UTC)
    lost = t.lost_calls({"u2"}, datetime.fromtimestamp(201.0, UTC), "gone after reconnecting")
    assert [(e.type, getattr(e, "call_id", None)) for e in lost] == [
        ("call.lost", "l1"),
        ("agent.state_changed", None),
    ]
    assert lost[0].queue is None  # it was answered: not a queue outcome
    assert set(t.open_calls()) == {"u2"}


def test_abandon_is_final_only_at_hangup_and_a_timeout_wins():
    t = AmiTranslator()
    t.translate(caller("QueueCallerJoin", 100.2))
    assert t.translate(caller("QueueCallerAbandon", 102.9, HoldTime="2", Position="1")) == []
    t.translate(caller("QueueCallerLeave", 102.9))
    out = t.translate({**caller("VarSet", 102.9), "Variable": "QUEUESTATUS", "Value": "TIMEOUT"})
    assert [e.type for e in out] == ["call.timed_out"]
    assert out[0].wait_seconds == 2  # whole seconds, as app_queue computes it
    t.translate({**caller("QueueCallerJoin", 300.0), "Uniqueid": "u3", "Linkedid": "l3"})
    t.translate({**caller("QueueCallerAbandon", 305.0, HoldTime="5"), "Uniqueid": "u3"})
    out = t.translate({"Event": "Hangup", "Uniqueid": "u3", "Timestamp": "305.1"})
    assert [(e.type, e.wait_seconds) for e in out] == [("call.abandoned", 5.0)]


def test_a_call_whose_agent_complete_never_comes_is_completed_from_the_hangups():
    """Asterisk drops AMI AgentComplete when a channel snapshot is already gone."""
    read = [50.0]  # Medlytt's monotonic clock: when each message is read
    t = AmiTranslator(monotonic=lambda: read[0])
    t.translate(member())
    t.translate(caller("QueueCallerJoin", 100.5))
    t.translate(caller("AgentCalled", 100.5))
    t.translate(caller("AgentConnect", 101.7, HoldTime="1", RingTime="1", DestUniqueid="a1"))
    assert t.translate({"Event": "Hangup", "Uniqueid": "u1", "Timestamp": "104.2"}) == []
    assert t.translate({"Event": "Hangup", "Uniqueid": "a1", "Timestamp": "104.3"}) == []
    assert t.overdue_completions(now=51.4) == []  # still within the grace period
    out = t.overdue_completions(now=51.6)
    assert [e.type for e in out] == ["call.ended", "agent.state_changed"]
    ended = out[0]
    assert (ended.hung_up_by, ended.talk_seconds, ended.wait_seconds) == ("caller", 3.0, 1.0)
    # A late AgentComplete does not end the call twice.
    assert (
        t.translate(caller("AgentComplete", 106.1, HoldTime="1", TalkTime="3", Reason="caller"))
        == []
    )
    assert t.open_calls() == {}


def test_who_hung_up_is_who_left_the_bridge_first_not_whose_hangup_came_first():
    t = AmiTranslator(monotonic=lambda: 0.0)
    t.translate(member())
    t.translate(caller("QueueCallerJoin", 100.0))
    t.translate(caller("AgentConnect", 101.0, HoldTime="1", RingTime="1", DestUniqueid="a1"))
    t.translate({"Event": "BridgeLeave", "Uniqueid": "a1", "Timestamp": "110.0"})  # agent left
    t.translate({"Event": "BridgeLeave", "Uniqueid": "u1", "Timestamp": "110.0"})
    t.translate(
        {"Event": "Hangup", "Uniqueid": "u1", "Timestamp": "110.1"}
    )  # caller's hangup first
    t.translate({"Event": "Hangup", "Uniqueid": "a1", "Timestamp": "110.2"})
    ended = t.overdue_completions(now=2.0)[0]
    assert (ended.hung_up_by, ended.talk_seconds) == ("agent", 9.0)


@pytest.mark.parametrize("behind", [-3600.0, 5.0, 3600.0])
def test_the_grace_for_agent_complete_counts_from_reading_the_hang_up_not_its_stamp(behind):
    """Medlytt reading AMI ``behind`` seconds late (a busy machine), or a PBX clock that
    far off Medlytt's: the AgentComplete that follows the hang-up in the stream still
    ends the call with Asterisk's own talk time, and a dropped one is recovered 1.5 s
    after the hang-up was read, not an hour early or late."""
    read = [1000.0]
    t = AmiTranslator(monotonic=lambda: read[0])
    now = time.time() - behind  # the PBX's stamps
    t.translate(member())
    t.translate(caller("QueueCallerJoin", now))
    t.translate(caller("AgentConnect", now + 1.2, HoldTime="1", RingTime="1", DestUniqueid="a1"))
    t.translate({"Event": "Hangup", "Uniqueid": "u1", "Timestamp": f"{now + 4.9}"})
    read[0] += 0.2
    assert t.overdue_completions() == []
    done = t.translate(
        caller("AgentComplete", now + 4.9, HoldTime="1", TalkTime="4", Reason="caller")
    )
    ended = next(e for e in done if isinstance(e, ev.CallEnded))
    assert ended.talk_seconds == 4.0  # Asterisk's figure, not one rebuilt from stamps
    read[0] += 10
    assert t.overdue_completions() == []  # ended once

    t.translate({**caller("QueueCallerJoin", now + 10), "Uniqueid": "u2", "Linkedid": "l2"})
    t.translate(
        {
            **caller("AgentConnect", now + 11.5, HoldTime="1", RingTime="1", DestUniqueid="a2"),
            "Uniqueid": "u2",
            "Linkedid": "l2",
        }
    )
    t.translate({"Event": "Hangup", "Uniqueid": "u2", "Timestamp": f"{now + 14.6}"})
    read[0] += 1.4
    assert t.overdue_completions() == []  # its AgentComplete may still come
    read[0] += 0.2
    recovered = [e for e in t.overdue_completions() if isinstance(e, ev.CallEnded)]
    assert [e.call_id for e in recovered] == ["l2"]


def test_timeout_wait_counts_from_app_queues_own_start_second():
    t = AmiTranslator()
    t.translate(caller("QueueCallerJoin", 200.001))  # app_queue stamped 199, announced at 200.001
    t.learn_start([{"Event": "QueueEntry", "Uniqueid": "u1", "Wait": "1", "Timestamp": "200.5"}])
    t.translate(caller("QueueCallerLeave", 208.4))
    out = t.translate({**caller("VarSet", 208.4), "Variable": "QUEUESTATUS", "Value": "TIMEOUT"})
    assert out[0].wait_seconds == 9  # 208 - 199, as app_queue logs it; not 208 - 200


def test_hold_is_announced_once_and_only_on_an_answered_call():
    """Music while the caller waits in the queue is no hold; a phone's ``Hold`` and the
    music it starts (on any channel of the call, found by Linkedid) are one hold."""
    t = AmiTranslator()
    t.translate(member())
    t.translate(caller("QueueCallerJoin", 100.0, Position="1"))
    assert t.translate(caller("MusicOnHoldStart", 100.2, Class="default")) == []
    assert t.translate(caller("MusicOnHoldStop", 101.9, Class="default")) == []
    t.translate(caller("AgentCalled", 100.1, DestUniqueid="a1"))
    t.translate(caller("AgentConnect", 102.0, HoldTime="2", RingTime="2", DestUniqueid="a1"))
    held = t.translate(caller("Hold", 110.0, Uniqueid="a1", MusicClass="default"))
    assert [(e.type, e.call_id, e.agent_id) for e in held] == [("call.held", "l1", IFACE)]
    assert held[0].at == datetime.fromtimestamp(110.0, UTC)
    # The music the hold starts, on the far half of the agent's Local channel.
    assert t.translate(caller("MusicOnHoldStart", 110.1, Uniqueid="a2", Class="default")) == []
    resumed = t.translate(caller("MusicOnHoldStop", 115.5, Uniqueid="a2", Class="default"))
    assert [(e.type, e.call_id) for e in resumed] == [("call.resumed", "l1")]
    assert t.translate(caller("Unhold", 115.6, Uniqueid="a1")) == []
    again = t.translate(caller("MusicOnHoldStart", 120.0, Uniqueid="x9", Class="default"))
    assert [e.type for e in again] == ["call.held"]
    t.translate(caller("AgentComplete", 130.0, HoldTime="2", TalkTime="28", Reason="agent"))
    assert t.translate(caller("MusicOnHoldStop", 130.1, Uniqueid="x9")) == []


def test_a_hold_without_a_uniqueid_is_rejected():
    rejected: list[tuple[str, str]] = []
    t = AmiTranslator(reject=lambda what, why: rejected.append((what, why)))
    assert t.translate({"Event": "Hold", "Timestamp": "100.0", "Linkedid": "l1"}) == []
    assert rejected == [("AMI Hold", "no Uniqueid")]


def answered_call(t: AmiTranslator) -> None:
    t.translate(member())
    t.translate(caller("QueueCallerJoin", 100.0, Position="1", Context="callers", Exten="s"))
    t.translate(caller("AgentCalled", 100.1, DestUniqueid="a1"))
    t.translate(caller("AgentConnect", 102.0, HoldTime="2", RingTime="2", DestUniqueid="a1"))


def transfer_of(out: list[ev.Event]) -> tuple[str, str]:
    (transfer,) = [e for e in out if isinstance(e, ev.CallTransferred)]
    assert transfer.from_agent_id == IFACE and transfer.call_id == "l1"
    return transfer.target, transfer.kind


def test_a_blind_transfer_names_its_target_whichever_event_comes_first():
    """AMI sends BlindTransfer and app_queue's AgentComplete from separate subscriptions
    (seen on 22.10.1: BlindTransfer first, 75 µs apart); either order gives the target."""
    complete = caller(
        "AgentComplete",
        110.0,
        HoldTime="2",
        TalkTime="8",
        Reason="transfer",
        Context="transfer-target",
        Exten="s",
    )
    t = AmiTranslator()
    answered_call(t)
    blind = {"Event": "BlindTransfer", "Timestamp": "110.0", "Result": "Success"}
    blind |= {"TransfererUniqueid": "a1", "TransfereeUniqueid": "u1"}
    assert t.translate(blind | {"Extension": "2002", "Context": "phones"}) == []
    assert transfer_of(t.translate(complete)) == ("2002@phones", "blind")
    # AgentComplete first: the caller's channel already sits at the target.
    t = AmiTranslator()
    answered_call(t)
    assert transfer_of(t.translate(complete)) == ("s@transfer-target", "blind")


def test_a_transfer_whose_target_cannot_be_told_says_unknown():
    t = AmiTranslator()
    answered_call(t)
    complete = caller(
        "AgentComplete",
        110.0,
        HoldTime="2",
        TalkTime="8",
        Reason="transfer",
        Context="callers",
        Exten="s",
    )
    assert transfer_of(t.translate(complete)) == ("unknown", "blind")
    t = AmiTranslator()
    answered_call(t)
    attended = {"Event": "AttendedTransfer", "Timestamp": "109.0", "Result": "Success"}
    attended |= {"OrigTransfererUniqueid": "a1", "TransferTargetCallerIDNum": "1003"}
    assert t.translate(attended) == []
    assert transfer_of(t.translate(complete)) == ("1003", "attended")
