"""Each hook is called when hookspecs.py says, with what it says."""

from medlytt import hookimpl
from medlytt.clock import utcnow
from medlytt.events import CallQueued
from medlytt.forms import EvaluationForm, FormItem, FormSection


class Lifecycle:
    def __init__(self):
        self.calls: list[str] = []

    @hookimpl
    def medlytt_migrations(self):
        self.calls.append("migrations")
        return []

    @hookimpl
    def medlytt_metrics(self, registry):
        self.calls.append("metrics")

    @hookimpl
    async def medlytt_startup(self, app):
        self.calls.append(f"startup storage_open={app.storage._db is not None}")

    @hookimpl
    def medlytt_gateways(self):
        self.calls.append("gateways")

    @hookimpl
    async def medlytt_event(self, event, state):
        self.calls.append(f"event {event.type} waiting={len(state.queues['q'].waiting)}")

    @hookimpl
    async def medlytt_shutdown(self, app):
        self.calls.append(f"shutdown storage_open={app.storage._db is not None}")


async def test_lifecycle_order_and_keyword_subsets(medlytt):
    plugin = Lifecycle()
    async with medlytt(plugins=[("lifecycle", plugin)]) as app:
        app.publish(CallQueued(at=utcnow(), source="t", call_id="c1", queue="q"))
    assert plugin.calls == [
        "migrations",
        "metrics",
        "gateways",  # created before startup, so plugins can attach to them there
        "startup storage_open=True",
        "event call.queued waiting=1",  # the state already includes the event
        "shutdown storage_open=True",
    ]


PHONE_TECHNIQUE = EvaluationForm(
    id="third-party-greeting",
    version=1,
    title="Listening form: phone technique",
    module="telefonteknikk",
    sections=(
        FormSection(
            title="Opening",
            items=(
                FormItem(id="greeting", text="Greets with company and own name"),
                FormItem(id="pace", text="Speaks at the caller's pace", allow_na=True),
            ),
        ),
    ),
)


class Forms:
    @hookimpl
    def medlytt_forms(self):
        return [PHONE_TECHNIQUE, "not a form"]


async def test_forms_are_collected_and_served(medlytt, medlytt_client):
    async with medlytt(plugins=[("forms", Forms())]) as app:
        assert app.forms[("third-party-greeting", 1)] == PHONE_TECHNIQUE
        assert "not a form" not in app.forms.values()
        client = await medlytt_client(app)
        body = await (await client.get("/api/forms")).json()
        served = next(f for f in body["forms"] if f["id"] == "third-party-greeting")
        assert served["sections"][0]["items"][1]["allow_na"] is True
        assert PHONE_TECHNIQUE.item_ids() == ["greeting", "pace"]


async def test_listens_to_delivers_only_the_declared_event_types(medlytt):
    from medlytt import listens_to
    from medlytt.events import CallAbandoned, CallAnswered, QueueConfigured

    class Picky:
        def __init__(self):
            self.seen: list[str] = []

        @hookimpl
        @listens_to(CallAnswered, CallAbandoned)
        def medlytt_event(self, event):
            self.seen.append(event.type)

    picky = Picky()
    async with medlytt(plugins=[("picky", picky)]) as app:
        now = utcnow()
        app.publish(QueueConfigured(at=now, source="t", queue="q"))
        app.publish(CallQueued(at=now, source="t", call_id="c1", queue="q"))
        app.publish(
            CallAnswered(at=now, source="t", call_id="c1", queue="q", agent_id="a", wait_seconds=1)
        )
        app.publish(CallQueued(at=now, source="t", call_id="c2", queue="q"))
        app.publish(CallAbandoned(at=now, source="t", call_id="c2", queue="q", wait_seconds=2))
        await app.settle()
        mailbox = next(m for m in app.bus.mailboxes if m.info.name == "picky")
        assert mailbox.delivered == 2  # the others never entered its mailbox
    assert picky.seen == ["call.answered", "call.abandoned"]


def test_listens_to_needs_event_classes():
    import pytest
    from medlytt import listens_to

    with pytest.raises(TypeError, match="one or more event classes or type tags"):
        listens_to()
    with pytest.raises(TypeError, match="one or more event classes or type tags"):
        listens_to(42)
    # Another plugin's event type by its tag, without importing that plugin:
    marked = listens_to("mystery_call.started")(lambda event: None)
    assert marked.medlytt_event_types == ("mystery_call.started",)
