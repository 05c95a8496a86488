"""A body that cannot be read as a form is a 422 naming what is wrong, never a 500.

Found by schemathesis over the generated OpenAPI document
(tests/test_schemathesis_generated.py): ``POST /console/login`` and ``POST
/console/profile`` with ``Content-Type: multipart/form-data`` and no boundary answered
500 (aiohttp raises reading such a body).  The two other readers of form bodies, the
CSRF check of a cookie session and the softphone webhook, read them the same way and
are pinned here too.  Each bad body: no multipart boundary, an unknown charset, bytes
that are not text in the declared charset (whose error must not quote the body: it may
hold a password).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from medlytt import auth
from medlytt.testing import add_user_with_token

A1 = "PJSIP/1001"
PASSWORD = "correct horse battery"
DESK_TOKEN = "desk-1001-webhook-secret-0123456789"
#: (Content-Type, body, a word the error must name).
BAD_BODIES = (
    ("multipart/form-data", b"name=ada", "boundary"),
    ("application/x-www-form-urlencoded; charset=no-such-charset", b"name=ada", "no-such-charset"),
    ("application/x-www-form-urlencoded; charset=ascii", b"password=\xc3\xa6\xff", "charset"),
)


async def refused(response: Any, named: str) -> None:
    body = await response.json()
    assert response.status == 422, body
    assert named in body["error"] and body["status"] == 422
    assert "\\x" not in body["error"] and "\xff" not in body["error"]


@pytest.mark.parametrize(("content_type", "body", "named"), BAD_BODIES)
async def test_console_forms_refuse_a_body_that_is_no_form(
    medlytt, medlytt_client, content_type, body, named
):
    async with medlytt() as app:
        token = add_user_with_token(app, "ada", "admin")
        client = await medlytt_client(app, role=None)
        headers = {"Content-Type": content_type}
        await refused(await client.post("/console/login", data=body, headers=headers), named)
        headers["Authorization"] = f"Bearer {token}"
        await refused(await client.post("/console/profile", data=body, headers=headers), named)


@pytest.mark.parametrize(("content_type", "body", "named"), BAD_BODIES)
async def test_the_csrf_check_of_a_session_refuses_a_body_that_is_no_form(
    medlytt, medlytt_client, content_type, body, named
):
    async with medlytt() as app:
        app.storage.run_sync(
            lambda db: (auth.add_user(db, "ada", "admin"), auth.set_password(db, "ada", PASSWORD))
        )
        client = await medlytt_client(app, role=None)
        form = await (await client.get("/console/login")).text()
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf, form
        data = {"name": "ada", "password": PASSWORD, "csrf": csrf.group(1)}
        logged_in = await client.post("/console/login", data=data, allow_redirects=False)
        assert logged_in.status == 303, await logged_in.text()
        # The session cookie, no CSRF header: the core looks for the token in the form.
        response = await client.post(
            "/console/logout", data=body, headers={"Content-Type": content_type}
        )
        await refused(response, named)


@pytest.mark.parametrize(("content_type", "body", "named"), BAD_BODIES)
async def test_the_softphone_webhook_refuses_a_body_that_is_no_form(
    medlytt, medlytt_client, content_type, body, named
):
    async with medlytt({"softphone": {"webhook": {A1: {"token": DESK_TOKEN}}}}) as app:
        client = await medlytt_client(app, role=None)
        response = await client.post(
            f"/api/softphone/hooks/{DESK_TOKEN}", data=body, headers={"Content-Type": content_type}
        )
        await refused(response, named)
