"""The web console in a real browser (headless Debian chromium driven by Playwright).

Two scenarios, one browser each: an agent on their own page (and refused another's), and
the console's defences (no data without a session, no change without the CSRF token, the
sixth wrong password in a minute refused).  The sandbox scenario (a live call on the
wallboard, listen/whisper/stop) is tests/asterisk/test_console_browser.py.
"""

from __future__ import annotations

from typing import Any

from console_browser import (
    PASSWORD,
    add_console_user,
    browser,
    log_in,
    screenshot,
    script_errors,
    served,
)
from medlytt import AgentState, AgentStateChanged, CallAnswered, CallQueued, utcnow
from medlytt.plugins.monitoring import store as audit_store
from medlytt.plugins.quality import store as quality_store
from medlytt.plugins.surveys import store as survey_store

A1, B1 = "PJSIP/1001", "PJSIP/2001"


async def agent_state(app: Any, state: AgentState) -> None:
    app.publish(
        AgentStateChanged(at=utcnow(), source="t", agent_id=A1, state=state, queues=("support",))
    )
    await app.settle()


def seed(db: Any) -> None:
    """Rows about both agents: who listened to them, a survey each."""
    now = utcnow().isoformat()
    for n, (agent, supervisor) in enumerate(((A1, "kari"), (B1, "ola"))):
        audit_store.append_audit(
            db,
            {
                "at": now,
                "action": "started",
                "session_id": f"s{n}",
                "supervisor": supervisor,
                "agent_id": agent,
                "call_id": f"c{n}",
                "mode": "whisper",
            },
        )
        survey_store.save_survey(
            db,
            {
                "id": f"v{n}",
                "call_id": f"c{n}",
                "queue": "support",
                "agent_id": agent,
                "started_at": now,
                "finished_at": now,
                "result": "completed",
            },
            {"satisfaction": "4" if agent == A1 else "2"},
        )


async def test_a_coach_evaluates_and_the_agent_acknowledges_seeing_only_their_own(medlytt):
    async with medlytt() as app, served(app) as site, browser() as chromium:
        base = site.base
        kari = add_console_user(app, "kari", "supervisor", teams=("team-a",))
        add_console_user(app, "a1", "agent", teams=("team-a",), agent_id=A1)
        add_console_user(app, "b1", "agent", teams=("team-b",), agent_id=B1)
        app.storage.run_sync(seed)
        now = utcnow()
        app.publish(CallQueued(at=now, source="t", call_id="c0", queue="support"))
        app.publish(
            CallAnswered(
                at=now, source="t", call_id="c0", queue="support", agent_id=A1, wait_seconds=3
            )
        )
        await app.settle()
        # The coach fills the form about a1's call on the Evaluate screen.
        coach = await chromium.new_context()
        page = await coach.new_page()
        errors = script_errors(page)
        plan = await page.request.put(  # the team's plan, set with kari's token
            f"{base}/api/plans/team-a",
            data={"per_agent_per_month": 4, "live_at_least": 1},
            headers={"Authorization": f"Bearer {kari}"},
        )
        assert plan.ok, await plan.text()
        await log_in(page, base, "kari")
        await page.goto(f"{base}/console/evaluate?call=c0")
        items = page.locator("#form-items fieldset.item")
        await items.first.wait_for()
        for n in range(await items.count()):  # the best value of every item
            await items.nth(n).locator('input[type="radio"]:not([value="na"])').last.check()
        await page.get_by_label("Overall comment").fill("Good opening")
        await page.get_by_role("button", name="Save evaluation").click()
        result = page.locator("#evaluation-result[data-evaluation]")
        await result.wait_for()
        evaluation_id = await result.get_attribute("data-evaluation")
        assert "100 %" in await result.inner_text()
        await screenshot(page, "evaluate")
        await page.get_by_role("button", name="Save evaluation").click()  # a second one
        await page.wait_for_function(
            f"() => document.querySelector('#evaluation-result').dataset.evaluation"
            f" !== '{evaluation_id}'"
        )
        second_id = await result.get_attribute("data-evaluation")
        await page.get_by_role("link", name="Calibration").click()
        await page.locator("#rounds tbody tr").first.wait_for()  # none yet: "Nothing yet."
        await page.get_by_role("link", name="Mystery calls").click()
        await page.locator("#mystery-results tbody tr").first.wait_for()
        assert errors == []
        await coach.close()

        page = await chromium.new_page()
        errors = script_errors(page)
        await log_in(page, base, "a1")
        assert page.url == f"{base}/console/me"  # an agent starts on their own page
        audit = page.locator("#audit tbody tr")
        await audit.first.wait_for()
        assert await audit.count() == 1
        assert "kari" in await audit.first.inner_text()  # who listened to a1: kari, never ola
        assert "ola" not in await page.locator("main").inner_text()
        scores = await page.locator("#scores tbody").inner_text()
        assert "satisfaction" in scores and "4" in scores
        plan_row = page.locator("#plans tbody tr")
        await plan_row.first.wait_for()
        cells = await plan_row.first.locator("td").all_inner_texts()
        assert cells[:3] == ["team-a", "4", "1"], cells
        assert cells[3].startswith("2")  # the two evaluations of a1's call count
        evaluation = page.locator("#evaluations tbody tr")
        await evaluation.nth(1).wait_for()
        assert "100 %" in await evaluation.first.inner_text()
        # One is acknowledged, the other disputed with a comment (a labelled inline form).
        await page.get_by_role("button", name="Acknowledge").first.click()
        await page.locator('#evaluations [data-status="acknowledged"]').wait_for()
        await page.get_by_role("button", name="Dispute").click()
        await page.get_by_label("Comment").fill("The caller hung up before I could sum up")
        await page.get_by_role("button", name="Dispute").click()
        await page.locator('#evaluations [data-status="disputed"]').wait_for()

        def stored(evaluation: str) -> dict[str, Any]:
            row = app.storage.run_sync(lambda db: quality_store.get_evaluation(db, evaluation))
            assert row is not None
            return row

        statuses = {stored(e)["status"] for e in (evaluation_id, second_id)}
        assert statuses == {"acknowledged", "disputed"}
        disputed = next(
            stored(e) for e in (evaluation_id, second_id) if stored(e)["status"] == "disputed"
        )
        assert disputed["answer_comment"] == "The caller hung up before I could sum up"
        await screenshot(page, "agent-page")
        assert errors == []
        # Another agent's page: 403, and none of their rows.
        response = await page.goto(f"{base}/console/agent?id={B1}")
        assert response is not None and response.status == 403
        assert "ola" not in await page.content()
        # The supervisors' screens are not an agent's.
        response = await page.goto(f"{base}/console/wallboard")
        assert response is not None and response.status == 403


async def test_no_data_without_a_session_no_change_without_the_token_and_a_login_limit(medlytt):
    async with medlytt() as app, served(app) as site, browser() as chromium:
        base = site.base
        add_console_user(app, "kari", "supervisor", phone="PJSIP/3001")
        # A browser that never logged in is sent to the login page, never shown data.
        anonymous = await chromium.new_context()
        page = await anonymous.new_page()
        for path in ("/console/wallboard", "/console/agents", "/console/me"):
            await page.goto(base + path)
            assert page.url.startswith(f"{base}/console/login?next="), page.url
            assert await page.locator("form.login").count() == 1
        for path in ("/console/live", "/api/agents", "/api/audit/monitoring"):
            assert (await page.request.get(base + path)).status == 401
        await anonymous.close()

        context = await chromium.new_context()
        page = await context.new_page()
        errors = script_errors(page)
        await log_in(page, base, "kari")
        assert page.url == f"{base}/console/wallboard"
        # The wallboard is right again after its connection drops: what happened while
        # it was cut is on screen once the browser has reconnected by itself.
        await agent_state(app, AgentState.AVAILABLE)
        await page.locator('#agents tr[data-state="available"]').wait_for()
        assert site.drop_connections() >= 1
        await agent_state(app, AgentState.PAUSED)
        await page.locator('#agents tr[data-state="paused"]').wait_for()
        await page.get_by_text("Live", exact=True).wait_for()
        cookie = next(c for c in await context.cookies() if c["name"] == "medlytt_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        # A forged form post (no CSRF token) is refused and changes nothing.
        await page.goto(f"{base}/console/profile")
        forged = await page.evaluate(
            """async () => (await fetch('/console/profile', {method: 'POST',
                 body: new URLSearchParams({phone: 'PJSIP/6666', language: 'nb'})})).status"""
        )
        assert forged == 403
        api_forged = await page.evaluate(
            """async () => (await fetch('/api/monitor', {method: 'POST',
                 headers: {'Content-Type': 'application/json'},
                 body: JSON.stringify({agent: 'PJSIP/1001'})})).status"""
        )
        assert api_forged == 403
        await page.reload()
        assert await page.get_by_label("Your phone").input_value() == "PJSIP/3001"
        # The real form carries the token and works.
        await page.get_by_label("Your phone").fill("PJSIP/4001")
        await page.get_by_role("button", name="Save").click()
        await page.wait_for_url("**/console/profile?saved=1")
        assert await page.get_by_label("Your phone").input_value() == "PJSIP/4001"
        # The kill switch on the mystery calls page goes through the API with the token.
        await page.get_by_role("link", name="Mystery calls").click()
        await page.get_by_role("button", name="Stop all mystery calls").click()
        await page.get_by_text("Kill switch: ON").wait_for()
        switch = await (await page.request.get(f"{base}/api/mystery-kill-switch")).json()
        assert switch["on"] is True
        assert errors == []
        # Logging out ends the session on the server: the old cookie opens nothing.
        await page.get_by_role("button", name="Log out").click()
        await page.wait_for_url("**/console/login")
        replay = await page.request.get(
            f"{base}/api/me", headers={"Cookie": f"medlytt_session={cookie['value']}"}
        )
        assert replay.status == 401
        # Five wrong passwords in a minute are answered 401; the sixth is refused (429),
        # and so is the right one after it, until the minute has passed.
        for attempt in range(6):
            await log_in(page, base, "kari", f"wrong password {attempt}")
            alert = await page.get_by_role("alert").inner_text()
            assert ("Too many" in alert) is (attempt == 5), (attempt, alert)
        await log_in(page, base, "kari", PASSWORD)
        assert "Too many" in await page.get_by_role("alert").inner_text()
        await context.close()
