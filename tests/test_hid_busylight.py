"""Busylight colours by agent state, and "being monitored" only where policy says so."""

from __future__ import annotations

import pytest
from medlytt.events import AgentState
from medlytt.hardware import light_colour
from medlytt.hardware.busylight import STATE_COLOURS


def test_every_agent_state_has_its_own_colour():
    assert set(STATE_COLOURS) == set(AgentState)
    assert len({c.rgb for c in STATE_COLOURS.values()}) == len(AgentState)


@pytest.mark.parametrize(
    ("state", "name"),
    [
        (AgentState.AVAILABLE, "green"),
        (AgentState.RINGING, "yellow"),
        (AgentState.ON_CALL, "red"),
        (AgentState.WRAP_UP, "orange"),
        (AgentState.PAUSED, "blue"),
        (AgentState.LOGGED_OUT, "off"),
        ("on_call", "red"),  # the state's value, as events carry it
    ],
)
def test_colour_by_state(state, name):
    assert light_colour(state).name == name


def test_monitoring_shows_only_where_the_policy_says_so_and_only_on_a_call():
    assert light_colour("on_call", monitored=True, show_monitoring=True).name == "magenta"
    assert light_colour("on_call", monitored=True, show_monitoring=False).name == "red"
    assert light_colour("on_call", monitored=False, show_monitoring=True).name == "red"
    assert light_colour("wrap_up", monitored=True, show_monitoring=True).name == "orange"


def test_an_unknown_state_is_an_error_naming_it():
    with pytest.raises(ValueError, match=r"unknown agent state 'lunch' \(known: logged_out, "):
        light_colour("lunch")
