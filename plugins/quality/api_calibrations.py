"""``/api/calibrations``: rounds in which several evaluators score the same subjects blind.

Until a round closes an evaluator sees only their own scores (and everyone sees only how
far each evaluator has come), so nobody adjusts to a colleague; once closed, the report
compares the scores item by item (:mod:`.agreement`).  A team whose last closed round is
older than ``calibration_max_age_days`` is reminded (``calibration.due``, a metric, and
``due`` in ``GET /api/calibrations``).
"""

from __future__ import annotations

import secrets
from collections import Counter
from typing import Any

import msgspec
from aiohttp import web
from medlytt import (
    Actor,
    HttpError,
    actor_named,
    allow,
    authenticate,
    json_response,
    medlytt_of,
    read_json,
)

from . import store
from .agreement import evaluator_report, item_report
from .api_forms import PLUGIN, service_of
from .api_plans import leads
from .events import CalibrationClosed
from .scoring import ScoreError, check_scores
from .subjects import parse_subject, resolve

MAX_SUBJECTS = 50
MAX_EVALUATORS = 20
ROWS = "admin: all rounds; supervisor: rounds of the teams they lead and rounds they score in"


class RoundBody(msgspec.Struct, forbid_unknown_fields=True):
    form: str
    subjects: list[dict[str, str]]
    evaluators: list[str]
    team: str


class ScoresBody(msgspec.Struct, forbid_unknown_fields=True):
    subject: dict[str, str] | str
    scores: dict[str, int | str]


def _key(subject: dict[str, str] | str) -> str:
    """A subject as the round keeps it: ``kind:id``."""
    if isinstance(subject, str):
        kind, _, subject_id = subject.partition(":")
        subject = {kind: subject_id}
    kind, subject_id = parse_subject(subject)
    return f"{kind}:{subject_id}"


def _may_see(actor: Actor, row: dict[str, Any]) -> bool:
    return leads(actor, row["team"]) or actor.name in row["evaluators"]


async def _round(request: web.Request) -> tuple[Actor, dict[str, Any]]:
    actor = await authenticate(request)
    calibration_id = request.match_info["id"]
    row = await medlytt_of(request).storage.run(lambda db: store.get_round(db, calibration_id))
    if row is None:
        raise HttpError(404, f"no calibration round {calibration_id!r}")
    if not _may_see(actor, row):
        raise HttpError(403, f"calibration round {calibration_id!r} is another team's")
    return actor, row


@allow(
    "admin",
    "supervisor",
    rows="a supervisor makes rounds for the teams they lead (with no team: any)",
)
async def create_round(request: web.Request) -> web.Response:
    """``{"form", "subjects": [{"recording": ID}, ...], "evaluators": [names], "team"}``."""
    app = medlytt_of(request)
    service = service_of(request)
    actor = await authenticate(request)
    body: RoundBody = await read_json(request, RoundBody)
    if not leads(actor, body.team):
        raise HttpError(403, f"you do not lead team {body.team!r}")
    form = service.forms.latest(body.form)
    if form is None:
        raise HttpError(422, f"no form {body.form!r}")
    if not 1 <= len(body.subjects) <= MAX_SUBJECTS:
        raise HttpError(422, f"subjects must list 1 to {MAX_SUBJECTS} subjects")
    keys = [_key(s) for s in body.subjects]
    if len(set(keys)) != len(keys):
        raise HttpError(422, "a subject appears twice in subjects")
    for key in keys:
        kind, _, subject_id = key.partition(":")
        await resolve(app, kind, subject_id)  # 404 for one that does not exist
    evaluators = list(dict.fromkeys(body.evaluators))
    if not 2 <= len(evaluators) <= MAX_EVALUATORS:
        raise HttpError(422, f"evaluators must name 2 to {MAX_EVALUATORS} different users")
    for name in evaluators:
        evaluator = await actor_named(app, name)
        if evaluator is None:
            raise HttpError(422, f"evaluator {name!r} is not an enabled user")
        if evaluator.role not in ("admin", "supervisor"):
            raise HttpError(422, f"evaluator {name!r} is an {evaluator.role}, not an evaluator")
    row = {
        "id": secrets.token_hex(6),
        "created_at": service.clock().isoformat(),
        "created_by": actor.name,
        "team": body.team,
        "form": form.id,
        "form_version": form.version,
        "subjects": keys,
        "evaluators": evaluators,
        "closed_at": None,
        "closed_by": None,
    }
    await app.storage.run(lambda db: store.insert_round(db, row))
    return json_response(row, status=201)


def _progress(row: dict[str, Any], scored: list[dict[str, Any]]) -> dict[str, int]:
    counts = Counter(s["evaluator"] for s in scored)
    return {name: counts.get(name, 0) for name in row["evaluators"]}


@allow("admin", "supervisor", rows=ROWS)
async def list_rounds(request: web.Request) -> web.Response:
    """Rounds the caller may see, and per team whether a round is due."""
    app = medlytt_of(request)
    service = service_of(request)
    actor = await authenticate(request)
    rows = await app.storage.run(lambda db: store.rounds(db, None))
    visible = [r for r in rows if _may_see(actor, r)]
    teams = [
        {
            "team": team,
            "age_seconds": age,
            "due": service.calibration_due(team),
        }
        for team, age in sorted(service.calibration_age.items())
        if leads(actor, team)
    ]
    return json_response({"calibrations": visible, "teams": teams})


@allow("admin", "supervisor", rows=ROWS + "; scores of others only once closed")
async def get_round(request: web.Request) -> web.Response:
    """The round, how far each evaluator is, and the scores the caller may see: only their
    own while the round is open, everyone's once it is closed."""
    app = medlytt_of(request)
    actor, row = await _round(request)
    scored = await app.storage.run(lambda db: store.round_scores(db, row["id"]))
    if row["closed_at"] is None:
        visible = [s for s in scored if s["evaluator"] == actor.name]
    else:
        visible = scored
    return json_response({**row, "progress": _progress(row, scored), "scores": visible})


@allow("admin", "supervisor", rows="the round's evaluators, each only their own scores")
async def put_scores(request: web.Request) -> web.Response:
    """The caller's scores of one subject: ``{"subject", "scores"}``; again replaces."""
    app = medlytt_of(request)
    service = service_of(request)
    actor, row = await _round(request)
    if actor.name not in row["evaluators"]:
        raise HttpError(403, "only the round's evaluators score in it")
    if row["closed_at"] is not None:
        raise HttpError(409, f"calibration round {row['id']!r} is closed")
    body: ScoresBody = await read_json(request, ScoresBody)
    key = _key(body.subject)
    if key not in row["subjects"]:
        raise HttpError(422, f"subject {key!r} is not in this round")
    form = service.forms.get(row["form"], row["form_version"])
    if form is None:
        raise HttpError(500, f"form {row['form']!r} version {row['form_version']} is missing")
    try:
        checked = check_scores(form, body.scores)
    except ScoreError as exc:
        raise HttpError(422, str(exc)) from None
    stored = {
        "calibration_id": row["id"],
        "subject": key,
        "evaluator": actor.name,
        "scores": checked,
        "at": service.clock().isoformat(),
    }
    await app.storage.run(lambda db: store.put_round_scores(db, stored))
    return json_response(stored)


def _report(form: Any, row: dict[str, Any], scored: list[dict[str, Any]]) -> dict[str, Any]:
    scores: dict[str, dict[str, dict[str, Any]]] = {key: {} for key in row["subjects"]}
    for s in scored:
        scores[s["subject"]][s["evaluator"]] = s["scores"]
    items = [item for section in form.sections for item in section.items]
    evaluators = evaluator_report(scores, items)
    seen = {e["evaluator"] for e in evaluators}
    evaluators += [
        {"evaluator": name, "mean_deviation": None}
        for name in row["evaluators"]
        if name not in seen
    ]
    return {
        "calibration_id": row["id"],
        "form": row["form"],
        "form_version": row["form_version"],
        "items": item_report(scores, items),
        "evaluators": evaluators,
        "subjects": len(row["subjects"]),
    }


@allow("admin", "supervisor", rows=ROWS)
async def close_round(request: web.Request) -> web.Response:
    """Close the round (its leaders or an admin): scores are final and the report opens."""
    app = medlytt_of(request)
    service = service_of(request)
    actor, row = await _round(request)
    if not leads(actor, row["team"]):
        raise HttpError(403, f"only the leaders of team {row['team']!r} close its rounds")
    now = service.clock()
    if not await app.storage.run(
        lambda db: store.close_round(db, row["id"], now.isoformat(), actor.name)
    ):
        raise HttpError(409, f"calibration round {row['id']!r} is closed already")
    scored = await app.storage.run(lambda db: store.round_scores(db, row["id"]))
    form = service.forms.get(row["form"], row["form_version"])
    flagged: tuple[str, ...] = ()
    if form is not None:
        flagged = tuple(i["item"] for i in _report(form, row, scored)["items"] if i["flagged"])
    app.publish(
        CalibrationClosed(
            at=now,
            source=PLUGIN,
            calibration_id=row["id"],
            team=row["team"],
            form=row["form"],
            flagged_items=flagged,
        )
    )
    await service.refresh()
    return json_response({**row, "closed_at": now.isoformat(), "closed_by": actor.name})


@allow("admin", "supervisor", rows=ROWS + "; only once closed")
async def report(request: web.Request) -> web.Response:
    """Per item alpha, agreement, units and flag; per evaluator the mean deviation."""
    app = medlytt_of(request)
    _, row = await _round(request)
    if row["closed_at"] is None:
        raise HttpError(409, "the report opens when the round closes (scores are blind until then)")
    form = service_of(request).forms.get(row["form"], row["form_version"])
    if form is None:
        raise HttpError(500, f"form {row['form']!r} version {row['form_version']} is missing")
    scored = await app.storage.run(lambda db: store.round_scores(db, row["id"]))
    return json_response(_report(form, row, scored))
