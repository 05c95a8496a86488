"""Busylights: the agent's state in colour where colleagues and supervisors look.

:func:`light_colour` is the whole policy, a pure function: the colour for an agent state,
and whether "being monitored" shows.  :class:`Busylights` puts a colour on every attached
light through ``busylight_core`` (the device library of busylight-for-humans, the extra
``medlytt[busylight]``), imported only when a light is switched, so Medlytt runs without it.

Colours, chosen so that "may I talk to you?" reads at a glance: green available, yellow
ringing, red on a call, orange wrap-up, blue paused, off when logged out.  A monitored
call shows magenta instead of red **only where the transparency policy says so**
(``show_monitoring``): DOMAIN.md section 5 asks that agents know how they are monitored,
and a contact center that tells them live does it with this light; one that does not keeps
red, so the light never says more than the policy.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from medlytt.events import AgentState

INSTALL_HINT = "pip install 'medlytt[busylight]'"


class Colour(NamedTuple):
    """An RGB colour with the name docs and logs use."""

    name: str
    red: int
    green: int
    blue: int

    @property
    def rgb(self) -> tuple[int, int, int]:
        return (self.red, self.green, self.blue)


OFF = Colour("off", 0, 0, 0)
GREEN = Colour("green", 0, 255, 0)
YELLOW = Colour("yellow", 255, 200, 0)
RED = Colour("red", 255, 0, 0)
ORANGE = Colour("orange", 255, 96, 0)
BLUE = Colour("blue", 0, 64, 255)
MAGENTA = Colour("magenta", 255, 0, 255)

STATE_COLOURS: dict[AgentState, Colour] = {
    AgentState.LOGGED_OUT: OFF,
    AgentState.AVAILABLE: GREEN,
    AgentState.RINGING: YELLOW,
    AgentState.ON_CALL: RED,
    AgentState.WRAP_UP: ORANGE,
    AgentState.PAUSED: BLUE,
}


def light_colour(
    state: AgentState | str, *, monitored: bool = False, show_monitoring: bool = False
) -> Colour:
    """The busylight's colour for an agent in ``state``.

    ``monitored``: a supervisor is listening to the agent's call now; it shows (magenta)
    only when ``show_monitoring`` is on, and only while the agent is on a call.  An unknown
    state raises ``ValueError`` naming it.
    """
    try:
        agent_state = AgentState(state)
    except ValueError:
        known = ", ".join(s.value for s in AgentState)
        raise ValueError(f"unknown agent state {state!r} (known: {known})") from None
    if monitored and show_monitoring and agent_state is AgentState.ON_CALL:
        return MAGENTA
    return STATE_COLOURS[agent_state]


class BusylightSupportMissing(RuntimeError):
    """busylight-core is not installed."""


class Busylights:
    """Every attached busylight, switched together.  Blocking: call from a thread."""

    def __init__(self) -> None:
        self._lights: list[Any] | None = None

    def _find(self) -> list[Any]:
        try:
            from busylight_core import Light
        except ImportError as exc:
            raise BusylightSupportMissing(
                f"busylight support is not installed: {INSTALL_HINT}"
            ) from exc
        return list(Light.all_lights(reset=False, exclusive=False))

    def show(self, colour: Colour) -> int:
        """Put ``colour`` on every light; how many lights took it (0: none attached)."""
        if not self._lights:
            self._lights = self._find()
        lit = 0
        for light in list(self._lights):
            try:
                light.on(colour.rgb)
                lit += 1
            except Exception:  # unplugged: forget it, look again next time
                self._lights.remove(light)
        return lit
