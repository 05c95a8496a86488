"""The web console against the real sandbox, in headless chromium (Playwright).

A supervisor logs in, sees a live sandbox call reach the wallboard (the lag from the
event to the row on screen is measured and printed), starts listening from the agents
screen, switches to whisper and stops; Asterisk is checked at each step.  The
screenshots in docs/screenshots come from this run.
"""

from __future__ import annotations

import asyncio
import secrets
import time

import pytest
from console_browser import add_console_user, browser, log_in, screenshot, script_errors, served
from medlytt import AgentState, AgentStateChanged, CallAnswered
from medlytt.gateways.asterisk.sandbox import place_call
from medlytt.testing import wait_until
from test_monitoring import leftovers, nothing_left

pytestmark = pytest.mark.browser


def _event_at(app, agent_id: str, call_id: str) -> float:
    """When the last event that puts this call on this agent's row happened (epoch s)."""
    times = [
        e.at.timestamp()
        for e in app.plugin_state["recorder"]
        if (isinstance(e, CallAnswered) and e.call_id == call_id)
        or (
            isinstance(e, AgentStateChanged)
            and e.agent_id == agent_id
            and e.state is AgentState.ON_CALL
        )
    ]
    assert times, f"no answer event recorded for {call_id} on {agent_id}"
    return max(times)


async def test_a_supervisor_watches_a_live_call_and_listens_whispers_stops(
    app, asterisk_sandbox, medlytt_client
):
    token = add_console_user(app, "kari", "supervisor")
    api = await medlytt_client(app, role=None)
    bearer = {"Authorization": f"Bearer {token}"}
    phone = f"Local/sup-console{secrets.token_hex(3)}@supervisor/n"
    async with served(app) as site, browser() as chromium:
        base = site.base
        page = await chromium.new_page(viewport={"width": 1280, "height": 720})
        errors = script_errors(page)
        await log_in(page, base, "kari")
        assert page.url == f"{base}/console/wallboard"
        await page.get_by_text("Live", exact=True).wait_for()  # the event stream is open

        call = asyncio.create_task(
            asyncio.to_thread(place_call, asterisk_sandbox, "support", ring=0.3, talk=25)
        )
        row = page.locator('#agents tr[data-state="on_call"]')
        await row.first.wait_for(timeout=20_000)
        rendered_ms = int(await row.first.get_attribute("data-rendered-at") or 0)
        agent_id = await row.first.get_attribute("data-agent")
        call_id = await row.first.get_attribute("data-call")
        assert agent_id and call_id
        await app.settle()
        lag = rendered_ms / 1000 - _event_at(app, agent_id, call_id)
        print(f"event-to-display lag on the wallboard: {lag * 1000:.0f} ms")
        # Never before the event (a row drawn from anything else), and within the second
        # issue 16 asks for (measured 4-11 ms; no benchmark holds this figure instead).
        assert 0 <= lag < 1.0, f"the call reached the wallboard {lag:.2f} s after the event"
        await screenshot(page, "wallboard")

        # The agents screen: the supervisor's phone, then Listen on the agent's call.
        await page.get_by_role("link", name="Agents and live calls").click()
        await page.get_by_label("Your phone").fill(phone)
        await page.get_by_role("button", name="Save").click()
        await page.wait_for_url("**/console/agents")
        agent_row = page.locator(f'#agents tr[data-agent="{agent_id}"]')
        await agent_row.locator('button[data-action="listen"]').click()
        session = page.locator("#session-text")
        await page.locator('#session-text[data-mode="listen"]').wait_for(timeout=20_000)
        sessions = (await (await api.get("/api/monitor", headers=bearer)).json())["sessions"]
        assert [(s["agent"], s["mode"], s["endpoint"]) for s in sessions] == [
            (agent_id, "listen", phone)
        ]
        assert await leftovers(asterisk_sandbox), "no monitoring channels in Asterisk"

        await agent_row.locator('button[data-action="whisper"]').click()
        await page.locator('#session-text[data-mode="whisper"]').wait_for(timeout=10_000)
        sessions = (await (await api.get("/api/monitor", headers=bearer)).json())["sessions"]
        assert [s["mode"] for s in sessions] == ["whisper"]
        assert (
            await agent_row.locator('button[data-action="whisper"]').get_attribute("aria-pressed")
            == "true"
        )
        await screenshot(page, "agents")

        began = time.monotonic()
        await agent_row.locator('button[data-action="stop"]').click()
        await page.wait_for_function("() => !document.querySelector('#session-text').dataset.mode")
        print(f"stop to the screen showing no session: {time.monotonic() - began:.2f} s")
        assert (await (await api.get("/api/monitor", headers=bearer)).json())["sessions"] == []
        await nothing_left(asterisk_sandbox)
        assert "No monitoring session" in await session.inner_text()
        assert errors == []
    await call
    await wait_until(lambda: not app.state.calls, timeout=30)
