"""Written communication through the API: who may submit and read texts, what is kept of
them, the trend per agent, the metrics, the module and its template form."""

from __future__ import annotations

import hashlib

from medlytt.testing import add_user_with_token

A1, B1 = "PJSIP/1001", "PJSIP/2001"
EMAIL = (
    "Hei Kari. Takk for e-posten din. Saken behandles i morgen. Vi ringer deg når den er "
    "ferdig. Fakturaen ble sendt i går."
)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def world(app, medlytt_client, *, module_on: bool = True):
    """Team a (agent a1, supervisor sup-a) with the module on; team b (b1, sup-b) too."""
    tokens = {
        "a1": add_user_with_token(app, "a1", "agent", teams=["a"], agent_id=A1),
        "b1": add_user_with_token(app, "b1", "agent", teams=["b"], agent_id=B1),
        "sup-a": add_user_with_token(app, "sup-a", "supervisor", teams=["a"]),
        "sup-b": add_user_with_token(app, "sup-b", "supervisor", teams=["b"]),
    }
    admin = await medlytt_client(app)
    if module_on:
        for team in ("a", "b"):
            switched = await admin.put(
                f"/api/teams/{team}/modules/written-communication", json={"active": True}
            )
            assert switched.status == 200, await switched.text()
    return admin, {who: bearer(token) for who, token in tokens.items()}


def body(agent: str = A1, **changes: str) -> dict[str, str]:
    return {"agent": agent, "kind": "email", "language": "nb", "text": EMAIL} | changes


async def test_a_text_is_scored_and_only_its_hash_kept_by_default(medlytt, medlytt_client):
    async with medlytt() as app:
        admin, who = await world(app, medlytt_client)
        response = await admin.post("/api/texts", json=body(), headers=who["a1"])
        assert response.status == 201, await response.text()
        row = await response.json()
        assert row["agent_id"] == A1 and row["submitted_by"] == "a1"
        assert (row["sentences"], row["words"]) == (5, 22)
        assert row["passive_sentences"] == 2 and row["passive_share"] == 0.4
        assert row["long_words"] == 3  # behandles, e-posten, fakturaen
        assert row["lix"] == round(22 / 5 + 100 * 3 / 22, 2)
        assert row["text"] is None
        assert row["sha256"] == hashlib.sha256(EMAIL.encode()).hexdigest()
        stored = await app.storage.run(lambda db: list(db.query("SELECT * FROM written_texts")))
        assert [r["text"] for r in stored] == [None]
        assert not any("Kari" in str(value) for value in stored[0].values())
        await app.settle()
        assert app.metric("medlytt_written_texts_total", {"kind": "email", "language": "nb"}) == 1
        assert (
            app.metric(
                "medlytt_written_passive_sentences_total", {"kind": "email", "language": "nb"}
            )
            == 2
        )
        assert (
            app.metric("medlytt_written_lix_mean", {"kind": "email", "language": "nb"})
            == (row["lix"])
        )
        events = await admin.get("/api/events", params={"type": "text.scored"})
        [event] = (await events.json())["events"]
        assert event["event"]["text_id"] == row["id"] and "text" not in event["event"]


async def test_keep_text_keeps_the_text(medlytt, medlytt_client):
    async with medlytt({"written": {"keep_text": True}}) as app:
        admin, who = await world(app, medlytt_client)
        response = await admin.post("/api/texts", json=body(), headers=who["sup-a"])
        assert response.status == 201
        listed = await admin.get("/api/texts")
        assert [r["text"] for r in (await listed.json())["texts"]] == [EMAIL]


async def test_who_may_submit_whose_texts(medlytt, medlytt_client):
    async with medlytt() as app:
        admin, who = await world(app, medlytt_client)
        cases = [
            ("a1", A1, 201),
            ("a1", B1, 403),  # an agent submits only their own
            ("sup-a", A1, 201),
            ("sup-b", A1, 403),  # a supervisor only for the agents of their teams
            ("sup-b", B1, 201),
        ]
        for identity, agent, status in cases:
            response = await admin.post("/api/texts", json=body(agent), headers=who[identity])
            assert response.status == status, (identity, agent, await response.text())
        assert (await admin.post("/api/texts", json=body(B1))).status == 201  # admin
        refused = await admin.post("/api/texts", json=body(B1), headers=who["a1"])
        assert "only their own" in (await refused.json())["error"]


async def test_bad_texts_are_refused_naming_what_is_wrong(medlytt, medlytt_client):
    async with medlytt({"written": {"max_characters": 200}}) as app:
        admin, _ = await world(app, medlytt_client)
        cases = [
            (body(language="de"), "language must be one of nb, nn, sv, da, en, got 'de'"),
            (body(kind="sms"), "kind must be one of email, case_note, chat, letter, template"),
            (body(text="12345 !!!"), "text must contain words"),
            (body(text="ord " * 60), "text has 240 characters; at most 200"),
            (body(agent=" "), "agent must be the agent id"),
            ({"agent": A1, "kind": "email", "language": "nb"}, "missing required field `text`"),
            (body() | {"customer": "x"}, "unknown field `customer`"),
        ]
        for sent, message in cases:
            response = await admin.post("/api/texts", json=sent)
            assert response.status == 422, sent
            assert message in (await response.json())["error"], sent


async def test_only_teams_with_the_module_on_are_measured(medlytt, medlytt_client):
    async with medlytt() as app:
        admin, who = await world(app, medlytt_client, module_on=False)
        response = await admin.post("/api/texts", json=body(), headers=who["a1"])
        assert response.status == 409
        error = (await response.json())["error"]
        assert "not switched on" in error and "PUT /api/teams/{team}/modules/" in error
        await admin.put("/api/teams/a/modules/written-communication", json={"active": True})
        assert (await admin.post("/api/texts", json=body(), headers=who["a1"])).status == 201
        assert (await admin.post("/api/texts", json=body(B1), headers=who["b1"])).status == 409


async def test_each_role_reads_its_rows_and_the_trend(medlytt, medlytt_client):
    async with medlytt() as app:
        admin, who = await world(app, medlytt_client)
        for agent, text in ((A1, EMAIL), (A1, "Vi sender brevet i dag."), (B1, EMAIL)):
            response = await admin.post("/api/texts", json=body(agent, text=text))
            assert response.status == 201
        # An older text of a1, written straight into the table: another week.
        await app.storage.run(
            lambda db: db["written_texts"].insert(
                {"id": "old", "at": "2026-01-05T09:00:00+00:00", "agent_id": A1}
                | {"kind": "email", "language": "nb", "sha256": "0" * 64, "words": 10}
                | {"sentences": 1, "long_words": 0, "lix": 10.0, "mean_sentence_words": 10.0}
                | {"mean_word_letters": 4.0, "long_word_share": 0.0, "passive_sentences": 1}
                | {"passive_share": 1.0, "submitted_by": "root"}
            )
        )
        seen = {}
        for identity in ("a1", "b1", "sup-a", "sup-b"):
            response = await admin.get("/api/texts", headers=who[identity])
            assert response.status == 200
            seen[identity] = {r["agent_id"] for r in (await response.json())["texts"]}
        assert seen == {"a1": {A1}, "b1": {B1}, "sup-a": {A1}, "sup-b": {B1}}
        refused = await admin.get("/api/texts", params={"agent": A1}, headers=who["sup-b"])
        assert refused.status == 403 and A1 in (await refused.json())["error"]
        trend = await admin.get("/api/texts/trend", params={"agent": A1}, headers=who["a1"])
        rows = (await trend.json())["trend"]
        assert len(rows) == 2 and rows[0]["period"] == "2026-W01"
        old, new = rows
        assert (old["texts"], old["lix"], old["passive_share"]) == (1, 10.0, 1.0)
        assert new["texts"] == 2 and new["passive_share"] == 0.2  # (0.4 + 0.0) / 2
        monthly = await admin.get("/api/texts/trend", params={"by": "month"})
        assert {r["agent_id"] for r in (await monthly.json())["trend"]} == {A1, B1}
        bad = await admin.get("/api/texts/trend", params={"by": "year"})
        assert (
            bad.status == 422
            and "by must be one of day, week, month" in (await bad.json())["error"]
        )


async def test_the_module_and_its_template_form(medlytt, medlytt_client):
    async with medlytt() as app:
        client = await medlytt_client(app)
        modules = (await (await client.get("/api/modules")).json())["modules"]
        [module] = [m for m in modules if m["id"] == "written-communication"]
        assert module["number"] == 7 and module["titles"]["nb"] == "Skriftlig kommunikasjon"
        response = await client.get("/api/forms", params={"module": "written-communication"})
        forms = {f["id"]: f for f in (await response.json())["forms"]}
        assert set(forms) == {"written-template", "written-template-nb"}
        english, norwegian = forms["written-template"], forms["written-template-nb"]
        assert norwegian["language"] == "nb" and english["language"] == "en"

        def shape(form):
            return [
                (s["id"], [(i["id"], i["scale"]["min"], i["scale"]["max"]) for i in s["items"]])
                for s in form["sections"]
            ]

        assert shape(english) == shape(norwegian)


def test_shipped_forms_names_a_file_that_is_not_a_form(tmp_path, monkeypatch):
    import pytest
    from medlytt import shipped_forms
    from medlytt.forms import FormFileError

    folder = tmp_path / "medlytt_badforms" / "forms"
    folder.mkdir(parents=True)
    (folder.parent / "__init__.py").write_text("")
    (folder / "a.toml").write_text('id = "a"\nversion = 1\ntitle = "A"\nsections = []\n')
    (folder / "b.toml").write_text('id = "b"\nversion = "one"\ntitle = "B"\nsections = []\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(FormFileError, match=r"medlytt_badforms/forms/b\.toml: .*version"):
        shipped_forms("medlytt_badforms")
    (folder / "b.toml").unlink()
    assert [form.id for form in shipped_forms("medlytt_badforms")] == ["a"]
