"""Asterisk's manager events in, Medlytt events out.

Pure translation, no I/O: :class:`AmiTranslator` takes AMI event dicts (``Event:
AgentConnect`` ...) and returns the Medlytt events they mean, so it can be tested with
recorded messages and reused for replays.  It keeps only what translation needs: when
each queue entry joined, which agents ring for it, which calls were answered.

Identities:

* ``call_id`` is the caller channel's **Linkedid**: one id for the call across all its
  channels (the agent's legs carry the same Linkedid).
* ``agent_id`` is the queue member **Interface** (``PJSIP/1001``,
  ``Local/agent1@agents/n``); the display name comes from config, else the member name.

Times: AMI events carry ``Timestamp`` (manager.conf ``timestampevents = yes``).  Wait and
talk times are Asterisk's own (``HoldTime``, ``TalkTime``, integer seconds, the numbers
app_queue writes to queue_log); a timeout's wait is computed the way app_queue computes
it, from whole seconds of the join and leave times.

Malformed events are rejected, never filled in with defaults: an event of a kind the
translator uses without the Uniqueid, Interface or Queue it is about, without a number it
reports (``HoldTime``, ``TalkTime``, ``RingTime``, ``Wait``, ``Duration``), or with a
number or ``Timestamp`` that is not one, goes to ``reject`` and changes nothing.  Fields
that AMI may leave out (``Position``, ``Timestamp``, ``Linkedid``) keep their defaults.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar

from medlytt import events as ev
from medlytt import utcnow
from medlytt.events import AgentState

from .malformed import Malformed, Reject, RejectLog

SOURCE = "asterisk"

AmiMessage = Mapping[str, str]

#: The channel variables whose ``VarSet`` the translator reads: app_queue's outcome.
READ_VARIABLES = frozenset({"QUEUESTATUS"})

#: QueueMemberStatus ``Status`` values (Asterisk device states) meaning "not logged in".
UNAVAILABLE_DEVICE_STATES = {"4", "5"}  # invalid, unavailable


@dataclass
class QueueEntry:
    """A caller's stay in one queue, as far as translation needs it."""

    call_id: str
    uniqueid: str
    queue: str
    joined: float
    #: app_queue's own start of the wait (whole seconds), learnt from QueueStatus.
    start_second: int | None = None
    ringing: set[str] = field(default_factory=set)
    left: float | None = None
    answered_by: str | None = None
    done: bool = False
    #: QueueCallerAbandon seen, outcome not final yet: Asterisk also sends it for a timeout
    #: that strikes while an agent rings, followed by QUEUESTATUS=TIMEOUT.
    abandon: AmiMessage | None = None
    #: For answered calls: when the agent was connected, the agent leg's Uniqueid, which
    #: side hung up first, and when the caller's channel hung up.  Asterisk drops the AMI
    #: AgentComplete when a channel snapshot is already gone (a hang-up race; queue_log
    #: still gets COMPLETE*), so the translator can complete the call from the hang-ups.
    connected: float | None = None
    hold_time: int = 0
    agent_uniqueid: str | None = None
    first_hangup: str | None = None
    left_bridge: float | None = None
    caller_hung_up: float | None = None
    #: When Medlytt read that hang-up (the translator's monotonic clock): the grace for a
    #: late AgentComplete counts from here, not from the PBX's stamp (see overdue_completions).
    hang_up_read: float | None = None
    #: On hold now (music on hold to the caller), so each hold is announced once.
    held: bool = False
    #: Where the caller's channel was in the dialplan when it joined ("exten@context"):
    #: after a blind transfer its AgentComplete shows the transfer's target instead.
    place: str | None = None
    #: A transfer announced by AMI BlindTransfer/AttendedTransfer before AgentComplete.
    transfer_target: str | None = None
    transfer_kind: str = "blind"


@dataclass
class AgentView:
    """What the translator last said about an agent, to emit only real changes."""

    agent_id: str
    name: str | None
    queues: set[str] = field(default_factory=set)
    state: AgentState = AgentState.AVAILABLE
    paused: bool = False
    pause_reason: str | None = None
    call_id: str | None = None


class AmiTranslator:
    """Turns AMI queue, member and talk events into Medlytt events."""

    def __init__(
        self,
        agent_names: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = utcnow,
        reject: Reject | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.agent_names = dict(agent_names or {})
        self.clock = clock
        #: Medlytt's own clock for how long ago something was read (tests pass their own).
        self.monotonic = monotonic
        #: Where malformed events are reported (the gateway counts them).
        self.reject: Reject = reject if reject is not None else RejectLog("asterisk")
        self.entries: dict[str, QueueEntry] = {}  # by caller channel Uniqueid
        self.agents: dict[str, AgentView] = {}
        self.queues: dict[str, dict[str, str]] = {}
        self.agent_channels: dict[str, str] = {}  # agent leg Uniqueid -> agent_id
        self.agent_legs: dict[str, QueueEntry] = {}  # connected agent leg Uniqueid -> entry
        self._handlers: dict[str, Callable[[AmiMessage], list[ev.Event]]] = {
            "QueueParams": self._queue_params,
            "QueueMember": self._queue_member,
            "QueueMemberAdded": self._queue_member,
            "QueueMemberRemoved": self._queue_member_removed,
            "QueueMemberStatus": self._queue_member_status,
            "QueueMemberPause": self._queue_member_pause,
            "QueueCallerJoin": self._caller_join,
            "QueueEntry": self._queue_entry,
            "AgentCalled": self._agent_called,
            "AgentRingNoAnswer": self._agent_ring_no_answer,
            "QueueCallerLeave": self._caller_leave,
            "AgentConnect": self._agent_connect,
            "AgentComplete": self._agent_complete,
            "QueueCallerAbandon": self._caller_abandon,
            "VarSet": self._var_set,
            "Hangup": self._hangup,
            "BridgeLeave": self._bridge_leave,
            "ChannelTalkingStart": self._talking_start,
            "ChannelTalkingStop": self._talking_stop,
            "BlindTransfer": self._blind_transfer,
            "AttendedTransfer": self._attended_transfer,
            "Hold": self._hold,
            "MusicOnHoldStart": self._hold,
            "Unhold": self._unhold,
            "MusicOnHoldStop": self._unhold,
        }

    @property
    def kinds(self) -> frozenset[str]:
        """The AMI event kinds translated; the AMI reader can pass over every other one."""
        return frozenset(self._handlers)

    #: Of the ``VarSet`` events (nearly half of AMI's traffic) only these variables matter.
    only: ClassVar[Mapping[str, tuple[str, frozenset[str]]]] = {
        "VarSet": ("Variable", READ_VARIABLES)
    }

    def translate(self, message: AmiMessage) -> list[ev.Event]:
        """The Medlytt events one AMI event means (often none); none for a malformed one."""
        kind = message.get("Event", "")
        handler = self._handlers.get(kind)
        if handler is None:
            return []  # not a kind Medlytt uses
        try:
            _timestamp(message)
            return handler(message)
        except Malformed as exc:
            self.reject(f"AMI {kind}", str(exc))
            return []

    def open_calls(self) -> dict[str, QueueEntry]:
        """Queue entries not finished yet, by caller channel Uniqueid."""
        return {uid: e for uid, e in self.entries.items() if not e.done}

    # ------------------------------------------------------------------ helpers

    def _at(self, message: AmiMessage) -> datetime:
        stamp = _timestamp(message)
        return self.clock() if stamp is None else datetime.fromtimestamp(stamp, UTC)

    def _stamp(self, message: AmiMessage) -> float:
        return self._at(message).timestamp()

    def _agent(self, interface: str, member_name: str | None = None) -> AgentView:
        agent = self.agents.get(interface)
        if agent is None:
            name = self.agent_names.get(interface) or member_name or None
            agent = self.agents[interface] = AgentView(agent_id=interface, name=name)
        return agent

    def _set_agent(
        self,
        message: AmiMessage,
        agent: AgentView,
        state: AgentState,
        *,
        reason: str | None = None,
        announce: bool = False,
    ) -> list[ev.Event]:
        if state is AgentState.AVAILABLE and agent.paused:
            state, reason = AgentState.PAUSED, agent.pause_reason
        if (
            not announce
            and state is agent.state
            and reason == (agent.pause_reason if state is AgentState.PAUSED else None)
        ):
            return []
        agent.state = state
        return [
            ev.AgentStateChanged(
                at=self._at(message),
                source=SOURCE,
                agent_id=agent.agent_id,
                state=state,
                reason=reason,
                name=agent.name if announce else None,
                queues=tuple(sorted(agent.queues)) if announce else None,
            )
        ]

    def _entry(self, message: AmiMessage) -> QueueEntry | None:
        return self.entries.get(_id(message, "Uniqueid"))

    def _release_ringing(
        self, message: AmiMessage, entry: QueueEntry, keep: str | None = None
    ) -> list[ev.Event]:
        out: list[ev.Event] = []
        for agent_id in sorted(entry.ringing):
            if agent_id == keep:
                continue
            agent = self.agents.get(agent_id)
            if (
                agent is not None
                and agent.state is AgentState.RINGING
                and agent.call_id == entry.call_id
            ):
                agent.call_id = None
                out += self._set_agent(message, agent, AgentState.AVAILABLE)
        entry.ringing.clear()
        return out

    # ------------------------------------------------------------------ queues and members

    def _queue_params(self, m: AmiMessage) -> list[ev.Event]:
        name = _id(m, "Queue")
        level = _amount(m, "ServiceLevel")
        _amount(m, "Wrapuptime")  # read by wrap_up_seconds()
        self.queues[name] = dict(m)
        return [
            ev.QueueConfigured(
                at=self._at(m),
                source=SOURCE,
                queue=name,
                strategy=m.get("Strategy", "unknown"),
                service_level_seconds=level if level else None,
            )
        ]

    def _queue_member(self, m: AmiMessage) -> list[ev.Event]:
        interface, queue, paused = _member(m)
        agent = self._agent(interface, m.get("MemberName") or m.get("Name"))
        agent.queues.add(queue)
        agent.paused = paused
        agent.pause_reason = m.get("PausedReason") or None if agent.paused else None
        state = _member_state(m, agent)
        return self._set_agent(m, agent, state, reason=agent.pause_reason, announce=True)

    def _queue_member_removed(self, m: AmiMessage) -> list[ev.Event]:
        interface, queue = _id(m, "Interface"), _id(m, "Queue")
        agent = self.agents.get(interface)
        if agent is None:
            return []
        agent.queues.discard(queue)
        if agent.queues:
            return self._set_agent(m, agent, agent.state, announce=True)
        return self._set_agent(m, agent, AgentState.LOGGED_OUT, announce=True)

    def _queue_member_status(self, m: AmiMessage) -> list[ev.Event]:
        _count(m, "Status")
        _member(m)  # checked whichever way the status goes
        agent = self.agents.get(_id(m, "Interface"))
        if agent is None:
            return self._queue_member(m)
        if m.get("Status") in UNAVAILABLE_DEVICE_STATES:
            return self._set_agent(m, agent, AgentState.LOGGED_OUT)
        if agent.state is AgentState.LOGGED_OUT:
            return self._set_agent(m, agent, AgentState.AVAILABLE)
        return []  # ringing, talking and wrap-up come from the queue events, not device state

    def _queue_member_pause(self, m: AmiMessage) -> list[ev.Event]:
        interface, paused = _id(m, "Interface"), _flag(m, "Paused", required=True)
        agent = self._agent(interface, m.get("MemberName"))
        reason = (m.get("PausedReason") or m.get("Reason") or None) if paused else None
        if paused == agent.paused and reason == agent.pause_reason:
            return []
        agent.paused, agent.pause_reason = paused, reason
        if agent.state in (AgentState.ON_CALL, AgentState.RINGING):
            return []  # takes effect when the call ends
        if paused:
            return self._set_agent(m, agent, AgentState.PAUSED, reason=reason)
        agent.state = AgentState.PAUSED  # force the change to be announced
        return self._set_agent(m, agent, AgentState.AVAILABLE)

    # ------------------------------------------------------------------ callers

    def _caller_join(self, m: AmiMessage) -> list[ev.Event]:
        uniqueid, queue = _id(m, "Uniqueid"), _id(m, "Queue")
        position = _count(m, "Position", required=False)
        call_id = m.get("Linkedid") or uniqueid
        entry = QueueEntry(call_id=call_id, uniqueid=uniqueid, queue=queue, joined=self._stamp(m))
        entry.place = _place(m)
        self.entries[uniqueid] = entry
        return [
            ev.CallQueued(
                at=self._at(m),
                source=SOURCE,
                call_id=call_id,
                queue=entry.queue,
                caller_id=m.get("CallerIDNum") or None,
                position=position,
            )
        ]

    def _queue_entry(self, m: AmiMessage) -> list[ev.Event]:
        """A caller found waiting by ``QueueStatus`` (after a reconnect); it also tells
        app_queue's start second of the wait (see :meth:`learn_start`)."""
        uniqueid, queue = _id(m, "Uniqueid"), _id(m, "Queue")
        wait, position = _count(m, "Wait"), _count(m, "Position", required=False)
        joined = self._stamp(m) - wait
        at = _time(joined, "Wait")
        known = self.entries.get(uniqueid)
        if known is not None:
            self._learn_start(known, m, wait)
            return []
        call_id = m.get("Linkedid") or uniqueid
        entry = QueueEntry(call_id=call_id, uniqueid=uniqueid, queue=queue, joined=joined)
        self._learn_start(entry, m, wait)
        self.entries[uniqueid] = entry
        return [
            ev.CallQueued(
                at=at,
                source=SOURCE,
                call_id=call_id,
                queue=entry.queue,
                caller_id=m.get("CallerIDNum") or None,
                position=position,
            )
        ]

    def learn_start(self, status: Sequence[AmiMessage]) -> None:
        """Take app_queue's start second of each waiting caller from ``QueueStatus``.

        app_queue stamps a caller's start (whole seconds) a moment before it announces the
        join; a timeout's wait is counted from that stamp.  ``QueueEntry.Wait`` is "now minus
        start" and the event's Timestamp is "now", which gives the stamp itself.  A
        QueueEntry it needs but cannot read (Wait or Timestamp no number) is rejected.
        """
        for message in status:
            if message.get("Event") != "QueueEntry":
                continue
            entry = self.entries.get(message.get("Uniqueid", ""))
            if entry is None:
                continue
            try:
                self._learn_start(entry, message, _count(message, "Wait"))
            except Malformed as exc:
                self.reject("AMI QueueEntry", str(exc))

    def _learn_start(self, entry: QueueEntry, message: AmiMessage, wait: int) -> None:
        """Narrow the start second down: every estimate is at or after the true stamp.

        ``Wait`` is counted with ``time(NULL)`` and the event's Timestamp taken a moment
        later, so a second boundary in between makes "Timestamp - Wait" one second late;
        and the join was announced after the start was stamped, so the join's own second
        is never before it either.  The smallest of these is the closest to app_queue's.
        """
        stamp = _timestamp(message)
        if stamp is None:
            return
        estimates = [_second(stamp) - wait, _second(entry.joined)]
        if entry.start_second is not None:
            estimates.append(entry.start_second)
        entry.start_second = min(estimates)

    def end_wrap_up(self, agent_id: str, at: datetime) -> list[ev.Event]:
        """The queue's wrap-up time after a call has passed: the agent is available again."""
        agent = self.agents.get(agent_id)
        if agent is None or agent.state is not AgentState.WRAP_UP:
            return []
        return self._set_agent({"Timestamp": str(at.timestamp())}, agent, AgentState.AVAILABLE)

    def wrap_up_seconds(self, queue: str) -> float:
        """The queue's ``wrapuptime`` as last reported by ``QueueStatus``."""
        return _amount(self.queues.get(queue, {}), "Wrapuptime")  # checked by _queue_params

    def _agent_called(self, m: AmiMessage) -> list[ev.Event]:
        interface = _id(m, "Interface")
        entry = self._entry(m)
        if entry is None or entry.done:
            return []
        agent = self._agent(interface, m.get("MemberName"))
        entry.ringing.add(agent.agent_id)
        if m.get("DestUniqueid"):
            self.agent_channels[m["DestUniqueid"]] = agent.agent_id
        agent.call_id = entry.call_id
        out: list[ev.Event] = [
            ev.AgentOffered(
                at=self._at(m),
                source=SOURCE,
                call_id=entry.call_id,
                queue=entry.queue,
                agent_id=agent.agent_id,
            )
        ]
        return out + self._set_agent(m, agent, AgentState.RINGING)

    def _agent_ring_no_answer(self, m: AmiMessage) -> list[ev.Event]:
        ring_ms = _count(m, "RingTime")
        entry = self._entry(m)
        agent = self.agents.get(_id(m, "Interface"))
        if entry is None or agent is None:
            return []
        entry.ringing.discard(agent.agent_id)
        agent.call_id = None
        out: list[ev.Event] = [
            ev.AgentRingNoAnswer(
                at=self._at(m),
                source=SOURCE,
                call_id=entry.call_id,
                queue=entry.queue,
                agent_id=agent.agent_id,
                ring_seconds=ring_ms / 1000.0,
            )
        ]
        return out + self._set_agent(m, agent, AgentState.AVAILABLE)

    def _caller_leave(self, m: AmiMessage) -> list[ev.Event]:
        entry = self._entry(m)
        if entry is not None:
            entry.left = self._stamp(m)
        return []  # the outcome comes with AgentConnect, QueueCallerAbandon or QUEUESTATUS

    def _agent_connect(self, m: AmiMessage) -> list[ev.Event]:
        interface = _id(m, "Interface")
        hold, ring = _count(m, "HoldTime"), _count(m, "RingTime")
        entry = self._entry(m)
        if entry is None:
            return []
        agent = self._agent(interface, m.get("MemberName"))
        entry.answered_by = agent.agent_id
        entry.connected = self._stamp(m)
        entry.hold_time = hold
        agent.call_id = entry.call_id
        if m.get("DestUniqueid"):
            self.agent_channels[m["DestUniqueid"]] = agent.agent_id
            entry.agent_uniqueid = m["DestUniqueid"]
            self.agent_legs[m["DestUniqueid"]] = entry
        out = self._release_ringing(m, entry, keep=agent.agent_id)
        out.append(
            ev.CallAnswered(
                at=self._at(m),
                source=SOURCE,
                call_id=entry.call_id,
                queue=entry.queue,
                agent_id=agent.agent_id,
                wait_seconds=float(hold),
                ring_seconds=float(ring),
            )
        )
        return out + self._set_agent(m, agent, AgentState.ON_CALL)

    def _agent_complete(self, m: AmiMessage) -> list[ev.Event]:
        interface, reason = _id(m, "Interface"), _id(m, "Reason")
        hold, talk = _count(m, "HoldTime"), _count(m, "TalkTime")
        member_wrapup = _amount(m, "Wrapuptime")
        entry = self._entry(m)
        if entry is None or entry.done:
            return []
        entry.done = True
        agent = self._agent(interface, m.get("MemberName"))
        agent.call_id = None
        hung_up_by = {"agent": "agent", "caller": "caller", "transfer": "agent"}.get(
            reason, "unknown"
        )
        out: list[ev.Event] = []
        if reason == "transfer":
            # The target: from the transfer's own AMI event when it came first (AMI sends
            # the two from separate subscriptions, in either order), else where the
            # caller's channel now is in the dialplan when a blind transfer moved it.
            moved = _place(m)
            target = entry.transfer_target or (
                moved if moved is not None and moved != entry.place else "unknown"
            )
            out.append(
                ev.CallTransferred(
                    at=self._at(m),
                    source=SOURCE,
                    call_id=entry.call_id,
                    from_agent_id=agent.agent_id,
                    target=target,
                    kind="attended" if entry.transfer_kind == "attended" else "blind",
                )
            )
        out.append(
            ev.CallEnded(
                at=self._at(m),
                source=SOURCE,
                call_id=entry.call_id,
                queue=entry.queue,
                agent_id=agent.agent_id,
                hung_up_by=hung_up_by,  # type: ignore[arg-type]
                talk_seconds=float(talk),
                wait_seconds=float(hold),
            )
        )
        wrapup = self.wrap_up_seconds(entry.queue) or member_wrapup
        next_state = AgentState.WRAP_UP if wrapup else AgentState.AVAILABLE
        self._forget(entry)
        return out + self._set_agent(m, agent, next_state)

    def _forget(self, entry: QueueEntry) -> None:
        self.entries.pop(entry.uniqueid, None)
        if entry.agent_uniqueid is not None:
            self.agent_legs.pop(entry.agent_uniqueid, None)

    def overdue_completions(self, now: float | None = None, grace: float = 1.5) -> list[ev.Event]:
        """Complete answered calls whose caller's hang-up was read ``grace`` seconds ago
        (``now``: the :attr:`monotonic` clock, read when not given) without an
        AgentComplete from Asterisk; times are computed the way app_queue does.

        The grace counts from when Medlytt read the hang-up, not from its AMI stamp: the
        AgentComplete follows the hang-up in the same stream, so only reading order tells
        whether it is late.  Measured against the stamp, a Medlytt reading AMI a second or
        two behind (a busy machine) or a PBX whose clock is behind Medlytt's would see
        every caller's hang-up as overdue and end the call from the hang-ups just before
        its AgentComplete arrived; a PBX clock ahead would leave calls open that long.
        """
        if now is None:
            now = self.monotonic()
        out: list[ev.Event] = []
        for entry in list(self.entries.values()):
            if entry.done or entry.caller_hung_up is None or entry.hang_up_read is None:
                continue
            if now - entry.hang_up_read < grace:
                continue
            entry.done = True
            # app_queue computes talktime when the bridge breaks up: the first BridgeLeave.
            ended = entry.left_bridge if entry.left_bridge is not None else entry.caller_hung_up
            connected = entry.connected if entry.connected is not None else ended
            talk = _second(ended) - _second(connected)
            stamp = {"Timestamp": str(entry.caller_hung_up)}
            out.append(
                ev.CallEnded(
                    at=self._at(stamp),
                    source=SOURCE,
                    call_id=entry.call_id,
                    queue=entry.queue,
                    agent_id=entry.answered_by,
                    hung_up_by=entry.first_hangup or "unknown",  # type: ignore[arg-type]
                    talk_seconds=float(talk),
                    wait_seconds=float(entry.hold_time),
                )
            )
            agent = self.agents.get(entry.answered_by or "")
            if agent is not None and agent.call_id == entry.call_id:
                agent.call_id = None
                wrapup = self.wrap_up_seconds(entry.queue)
                next_state = AgentState.WRAP_UP if wrapup else AgentState.AVAILABLE
                out += self._set_agent(stamp, agent, next_state)
            self._forget(entry)
        return out

    def _caller_abandon(self, m: AmiMessage) -> list[ev.Event]:
        _count(m, "HoldTime")  # both read by _hangup()
        _count(m, "Position", required=False)
        entry = self._entry(m)
        if entry is not None and not entry.done:
            entry.abandon = m  # final when the caller's channel hangs up (see _hangup)
        return []

    def _bridge_leave(self, m: AmiMessage) -> list[ev.Event]:
        """Who left the caller-agent bridge first is who hung up (the bridge then ends)."""
        uniqueid = _id(m, "Uniqueid")
        leg = self.agent_legs.get(uniqueid)
        if leg is not None and not leg.done:
            leg.first_hangup = leg.first_hangup or "agent"
            if leg.left_bridge is None:
                leg.left_bridge = self._stamp(m)
            return []
        entry = self.entries.get(uniqueid)
        if entry is not None and entry.answered_by is not None and not entry.done:
            entry.first_hangup = entry.first_hangup or "caller"
            if entry.left_bridge is None:
                entry.left_bridge = self._stamp(m)
        return []

    def _hangup(self, m: AmiMessage) -> list[ev.Event]:
        leg = self.agent_legs.get(_id(m, "Uniqueid"))
        if leg is not None and not leg.done:
            leg.first_hangup = leg.first_hangup or "agent"
            return []
        entry = self._entry(m)
        if entry is None or entry.done:
            return []
        if entry.answered_by is not None:
            entry.first_hangup = entry.first_hangup or "caller"
            entry.caller_hung_up = self._stamp(m)
            entry.hang_up_read = self.monotonic()
            return []  # AgentComplete should follow; overdue_completions() if it does not
        if entry.abandon is None:
            return []
        abandon = entry.abandon
        entry.done = True
        out = self._release_ringing(abandon, entry)
        out.append(
            ev.CallAbandoned(
                at=self._at(abandon),
                source=SOURCE,
                call_id=entry.call_id,
                queue=entry.queue,
                wait_seconds=float(_count(abandon, "HoldTime")),  # checked by _caller_abandon
                position=_count(abandon, "Position", required=False),
            )
        )
        self._forget(entry)
        return out

    def _var_set(self, m: AmiMessage) -> list[ev.Event]:
        if m.get("Variable") not in READ_VARIABLES:
            return []
        status = _id(m, "Value")
        entry = self._entry(m)
        if entry is None or entry.done or entry.answered_by:
            return []
        entry.done = True
        out = self._release_ringing(m, entry)
        left = entry.left if entry.left is not None else self._stamp(m)
        if status == "TIMEOUT":
            # app_queue: time(NULL) - qe->start, both whole seconds.
            start = entry.start_second if entry.start_second is not None else _second(entry.joined)
            wait = float(_second(left) - start)
            out.append(
                ev.CallTimedOut(
                    at=self._at(m),
                    source=SOURCE,
                    call_id=entry.call_id,
                    queue=entry.queue,
                    wait_seconds=wait,
                )
            )
        else:
            out.append(
                ev.CallLost(
                    at=self._at(m),
                    source=SOURCE,
                    call_id=entry.call_id,
                    reason=f"left the queue: QUEUESTATUS={status}",
                    queue=entry.queue,
                )
            )
        self._forget(entry)
        return out

    # ------------------------------------------------------------------ talk detection

    def _leg(self, m: AmiMessage) -> tuple[str, ev.Leg, str | None] | None:
        uniqueid = _id(m, "Uniqueid")
        linkedid = m.get("Linkedid") or uniqueid
        if uniqueid in self.entries:
            return self.entries[uniqueid].call_id, "caller", None
        agent_id = self.agent_channels.get(uniqueid)
        if agent_id is not None:
            return linkedid, "agent", agent_id
        if any(e.call_id == linkedid for e in self.entries.values()):
            return linkedid, "other", None
        return None

    def _talking_start(self, m: AmiMessage) -> list[ev.Event]:
        leg = self._leg(m)
        if leg is None:
            return []
        call_id, which, agent_id = leg
        return [
            ev.TalkStarted(
                at=self._at(m), source=SOURCE, call_id=call_id, leg=which, agent_id=agent_id
            )
        ]

    def _talking_stop(self, m: AmiMessage) -> list[ev.Event]:
        duration = _amount(m, "Duration", required=True) / 1000.0  # AMI reports milliseconds
        leg = self._leg(m)
        if leg is None:
            return []
        call_id, which, agent_id = leg
        return [
            ev.TalkStopped(
                at=self._at(m),
                source=SOURCE,
                call_id=call_id,
                leg=which,
                duration_seconds=duration,
                agent_id=agent_id,
            )
        ]

    # ------------------------------------------------------------------ transfers

    def _transferred_entry(self, m: AmiMessage) -> QueueEntry | None:
        """The answered call a transfer event is about: by the transferee (the caller)
        or the transferer (the agent's leg)."""
        for key in ("TransfereeUniqueid", "TransfererUniqueid", "OrigTransfererUniqueid"):
            uniqueid = m.get(key)
            entry = self.entries.get(uniqueid or "") or self.agent_legs.get(uniqueid or "")
            if entry is not None and not entry.done and entry.answered_by is not None:
                return entry
        return None

    def _blind_transfer(self, m: AmiMessage) -> list[ev.Event]:
        """Remember the target; AgentComplete (Reason transfer) announces the transfer."""
        entry = self._transferred_entry(m)
        if entry is not None and m.get("Result") == "Success":
            exten, context = m.get("Extension"), m.get("Context")
            entry.transfer_target = f"{exten}@{context}" if exten and context else None
            entry.transfer_kind = "blind"
        return []

    def _attended_transfer(self, m: AmiMessage) -> list[ev.Event]:
        entry = self._transferred_entry(m)
        if entry is not None and m.get("Result") == "Success":
            entry.transfer_target = (
                m.get("TransferTargetCallerIDNum") or m.get("SecondTransfererConnectedLineNum")
            ) or None
            entry.transfer_kind = "attended"
        return []

    # ------------------------------------------------------------------ hold

    def _answered_entry(self, m: AmiMessage) -> QueueEntry | None:
        """The answered, unfinished call a channel belongs to: the caller's channel, the
        agent's leg, or any other channel of the call (by Linkedid), e.g. the far half of
        a Local agent channel that plays the music."""
        uniqueid = _id(m, "Uniqueid")
        linkedid = m.get("Linkedid") or uniqueid
        entry = self.entries.get(uniqueid) or self.agent_legs.get(uniqueid)
        if entry is None:
            entry = next((e for e in self.entries.values() if e.call_id == linkedid), None)
        if entry is None or entry.done or entry.answered_by is None:
            return None  # music while waiting in the queue is not a hold
        return entry

    def _hold(self, m: AmiMessage) -> list[ev.Event]:
        entry = self._answered_entry(m)
        if entry is None or entry.held:
            return []  # a phone's Hold and the music it starts are one hold
        entry.held = True
        return [
            ev.CallHeld(
                at=self._at(m), source=SOURCE, call_id=entry.call_id, agent_id=entry.answered_by
            )
        ]

    def _unhold(self, m: AmiMessage) -> list[ev.Event]:
        entry = self._answered_entry(m)
        if entry is None or not entry.held:
            return []
        entry.held = False
        return [
            ev.CallResumed(
                at=self._at(m), source=SOURCE, call_id=entry.call_id, agent_id=entry.answered_by
            )
        ]

    # ------------------------------------------------------------------ resync

    def lost_calls(self, still_there: set[str], at: datetime, reason: str) -> list[ev.Event]:
        """Close every open entry whose caller channel is not in ``still_there``."""
        out: list[ev.Event] = []
        for uniqueid, entry in list(self.entries.items()):
            if uniqueid in still_there:
                continue
            out.append(
                ev.CallLost(
                    at=at,
                    source=SOURCE,
                    call_id=entry.call_id,
                    reason=reason,
                    queue=None if entry.answered_by else entry.queue,
                )
            )
            for agent_id in {*entry.ringing, entry.answered_by} - {None}:
                agent = self.agents.get(agent_id)  # type: ignore[arg-type]
                if agent is not None and agent.call_id == entry.call_id:
                    agent.call_id = None
                    out += self._set_agent(
                        {"Timestamp": str(at.timestamp())}, agent, AgentState.AVAILABLE
                    )
            self._forget(entry)
        return out


def _place(m: AmiMessage) -> str | None:
    """Where a channel is in the dialplan, ``exten@context`` (None when AMI left it out)."""
    exten, context = m.get("Exten"), m.get("Context")
    return f"{exten}@{context}" if exten and context else None


def _member(m: AmiMessage) -> tuple[str, str, bool]:
    """Interface, queue and paused of a queue member event (also checks Status, InCall)."""
    interface = m.get("Interface") or m.get("Location")
    if not interface:
        raise Malformed("no Interface")
    queue, paused = _id(m, "Queue"), _flag(m, "Paused")
    _flag(m, "InCall")
    _count(m, "Status", required=False)  # read by _member_state()
    return interface, queue, paused


def _member_state(m: AmiMessage, agent: AgentView) -> AgentState:
    if m.get("Status") in UNAVAILABLE_DEVICE_STATES:
        return AgentState.LOGGED_OUT
    if agent.paused:
        return AgentState.PAUSED
    if agent.call_id is not None:
        return agent.state
    if m.get("InCall") == "1" or m.get("Status") in ("2", "3", "8"):
        return AgentState.ON_CALL
    if m.get("Status") in ("6", "7"):
        return AgentState.RINGING
    return AgentState.AVAILABLE


#: app_queue reads the clock (whole seconds) a moment before it stamps the AMI event that
#: follows; a stamp just after a second boundary most likely belongs to the second before.
CLOCK_TO_EVENT_SECONDS = 0.001


def _second(stamp: float) -> int:
    """The whole second app_queue's ``time(NULL)`` most likely read for an event at ``stamp``."""
    return math.floor(stamp - CLOCK_TO_EVENT_SECONDS)


# Reading fields, for the handlers: each raises Malformed (naming the field, never its
# value) for what the message cannot mean, before the handler changes anything.


def _given(m: AmiMessage, key: str, required: bool) -> str | None:
    """``m[key]``; None when it is missing or empty, which is Malformed if ``required``."""
    value = m.get(key)
    if value:
        return value
    if required:
        raise Malformed(f"no {key}")
    return None


def _id(m: AmiMessage, key: str) -> str:
    """An id or name the event is about (Uniqueid, Interface, Queue): present, not empty."""
    return _given(m, key, True) or ""  # never "": _given raised


#: Whole numbers AMI sends (seconds, milliseconds, positions, states) have at most this
#: many digits; longer is not a time (and int() refuses over 4300 digits anyway).
MAX_DIGITS = 12


def _count(m: AmiMessage, key: str, *, required: bool = True) -> int:
    """A whole number AMI sends as decimal digits (HoldTime, Wait, Position, Status)."""
    value = _given(m, key, required)
    if value is None:
        return 0
    if not (value.isascii() and value.isdigit()) or len(value) > MAX_DIGITS:
        raise Malformed(f"{key} is not a whole number")
    return int(value)


def _amount(m: AmiMessage, key: str, *, required: bool = False) -> float:
    """A finite, non-negative number (ServiceLevel, Wrapuptime, Duration)."""
    value = _given(m, key, required)
    if value is None:
        return 0.0
    try:
        number = float(value)
    except ValueError:
        raise Malformed(f"{key} is not a number") from None
    if not 0 <= number < 10**MAX_DIGITS:  # also false for NaN
        raise Malformed(f"{key} is out of range")
    return number


def _flag(m: AmiMessage, key: str, *, required: bool = False) -> bool:
    """``1`` or ``0`` (Paused, InCall)."""
    value = _given(m, key, required)
    if value not in (None, "0", "1"):
        raise Malformed(f"{key} is not 0 or 1")
    return value == "1"


def _timestamp(m: AmiMessage) -> float | None:
    """The event's ``Timestamp`` (None without one: timestampevents is off)."""
    stamp = m.get("Timestamp")
    if not stamp:
        return None
    try:
        value = float(stamp)
    except ValueError:
        raise Malformed("Timestamp is not a number") from None
    _time(value, "Timestamp")
    return value


def _time(stamp: float, key: str) -> datetime:
    """``stamp`` as a time; Malformed (blaming ``key``) when it is none Python can hold."""
    try:
        return datetime.fromtimestamp(stamp, UTC)
    except (ValueError, OverflowError, OSError):  # NaN, infinite, before year 1 or after 9999
        raise Malformed(f"{key} is out of range") from None
