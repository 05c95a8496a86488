"""A baresip the core reaches itself: its call events become ``softphone.call`` events of
the agent whose phone it is, and features can answer, hang up, hold or mute through it."""

from __future__ import annotations

import logging

from medlytt import Gateway, Publish

from .baresip import COMMANDS, BaresipControl, BaresipError, PhoneCallUpdate
from .events import SoftphoneCall
from .settings import BaresipPhone

log = logging.getLogger(__name__)


def phone_call_event(update: PhoneCallUpdate, agent_id: str, device: str) -> SoftphoneCall:
    """The ``softphone.call`` event of an update from ``agent_id``'s phone."""
    return SoftphoneCall(
        at=update.at,
        source="softphone",
        agent_id=agent_id,
        device=device,
        phone_call_id=update.phone_call_id,
        state=update.state,  # type: ignore[arg-type]  # translate() yields only known states
        direction=update.direction,  # type: ignore[arg-type]
        peer=update.peer,
        reason=update.reason,
    )


class BaresipGateway(Gateway):
    """One agent's baresip over ctrl_tcp; the runner reconnects it with backoff."""

    def __init__(self, agent_id: str, phone: BaresipPhone, command_timeout: float) -> None:
        super().__init__()
        self.agent_id = agent_id
        self.phone = phone
        self.name = f"baresip:{agent_id}"
        self.command_timeout = command_timeout
        self.control: BaresipControl | None = None

    async def run(self, publish: Publish) -> None:
        control = BaresipControl(self.phone.address, timeout=self.command_timeout)
        await control.connect()
        self.control, self.connected = control, True
        log.info("softphone: connected to baresip of %s at %s", self.agent_id, control.address)
        try:
            async for update in control.updates():
                publish(phone_call_event(update, self.agent_id, "baresip"))
        finally:
            self.control, self.connected = None, False
            self.rejected += control.rejected
            control.rejected = 0
            await control.close()
        raise BaresipError(f"baresip at {self.phone.address} closed the connection")

    async def command(self, name: str) -> str:
        """Send one of :data:`COMMANDS` to this phone; its answer text."""
        if name not in COMMANDS:
            raise ValueError(f"unknown softphone command {name!r}; use {', '.join(COMMANDS)}")
        if self.control is None:
            raise BaresipError(f"baresip of {self.agent_id} is not connected")
        answer: str = await getattr(self.control, name)()
        return answer


class SoftphoneService:
    """``app.service("softphone")``: act on an agent's softphone without knowing which."""

    def __init__(self, gateways: list[BaresipGateway]) -> None:
        self.phones = {g.agent_id: g for g in gateways}

    async def command(self, agent_id: str, name: str) -> str:
        gateway = self.phones.get(agent_id)
        if gateway is None:
            raise LookupError(f"no softphone of agent {agent_id!r} is configured")
        return await gateway.command(name)
