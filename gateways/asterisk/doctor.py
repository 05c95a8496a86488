"""The Asterisk gateway's part of ``medlytt doctor``: every configured PBX, ARI and AMI.

Each check asks Asterisk the way the gateway will, and changes nothing a running Medlytt
uses: the event WebSocket is opened under an application name of its own (a second
connection under the configured name could take the events from a running Medlytt), and
the device state it sets to see an event arrive is its own and deleted again.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import Any

from medlytt import DoctorCheck, Instances

from .ami import AmiClient, AmiError
from .ari import EVENT_SOURCES, AriClient, AriError
from .diagnose import ami_fix, ari_fix, version_defects
from .settings import AsteriskSettings

#: Seconds to wait for an event Asterisk should send at once.
EVENT_WAIT = 3.0
#: AMI read classes the gateway's events come in: queue events (agent), hangups and talk
#: detection (call), QUEUESTATUS (dialplan), FullyBooted and reloads (system).
READ_CLASSES = ("agent", "call", "dialplan", "system")
#: Modules the features use: (module, fail when missing?, what needs it).
MODULES: tuple[tuple[str, bool, str], ...] = (
    ("app_queue.so", True, "queues: every queue event and metric"),
    ("res_stasis_snoop.so", False, "monitoring: listen, whisper and barge (snoop)"),
    ("res_ari_recordings.so", False, "recordings of monitoring sessions and mystery calls"),
    (
        "func_talkdetect.so",
        False,
        "TALK_DETECT in the dialplan: talk.started/talk.stopped events, who talks when",
    ),
)


async def check_all(config: Instances[AsteriskSettings]) -> list[DoctorCheck]:
    """Checks for ``[asterisk]`` and each ``[asterisk.NAME]`` that is configured."""
    pbxs = [("asterisk", config.default)] if config.default.configured else []
    pbxs += [(f"asterisk.{name}", s) for name, s in config.named.items() if s.configured]
    if not pbxs:
        return [DoctorCheck.ok("asterisk", "no PBX configured (ari_url unset): the demo runs")]
    checks: list[DoctorCheck] = []
    for label, settings in pbxs:
        checks += await check_ari(label, settings)
        checks += await check_ami(label, settings)
    return checks


# ------------------------------------------------------------------------------------ ARI


async def check_ari(label: str, settings: AsteriskSettings) -> list[DoctorCheck]:
    """Reachability and credentials, the version's known defects, modules, event sources."""
    name = f"{label} ARI"
    ari = AriClient.from_settings(settings)
    try:
        try:
            info = await ari.get("/asterisk/info")
        except AriError as exc:
            return [DoctorCheck.fail(name, str(exc), ari_fix(exc, settings))]
        version = str((info or {}).get("system", {}).get("version", "?"))
        checks = [
            DoctorCheck.ok(name, f"{settings.ari_url} as {settings.ari_user!r}: Asterisk {version}")
        ]
        checks += version_checks(label, version)
        checks += await module_checks(label, ari)
        checks.append(await event_sources_check(label, settings, ari))
        checks.append(await app_check(label, settings, ari))
        return checks
    finally:
        await ari.close()


def version_checks(label: str, version: str) -> list[DoctorCheck]:
    """A warning for each known defect of this Asterisk version that touches Medlytt."""
    return [
        DoctorCheck.warn(
            f"{label} Asterisk version",
            f"Asterisk {version}: {what} (Asterisk issue {issue})",
            f"upgrade Asterisk to a release with issue {issue} fixed "
            f"(https://github.com/asterisk/asterisk/issues/{issue})",
        )
        for issue, what in version_defects(version)
    ]


async def module_checks(label: str, ari: AriClient) -> list[DoctorCheck]:
    """Are the Asterisk modules the features use loaded and running?"""
    checks = []
    for module, required, why in MODULES:
        name = f"{label} module {module}"
        try:
            found = await ari.get(f"/asterisk/modules/{module}", template="/asterisk/modules/{m}")
        except AriError as exc:
            if exc.status != 404:
                checks.append(
                    DoctorCheck.warn(name, f"cannot ask: {exc}", "see Asterisk's log (messages)")
                )
                continue
            found = None
        status = str((found or {}).get("status", "not loaded"))
        if status == "Running":
            checks.append(DoctorCheck.ok(name, f"running ({why})"))
            continue
        fix = f"load it: 'module load {module}' in the Asterisk CLI, and keep it out of "
        fix += "modules.conf's noload lines"
        detail = f"{status}: needed for {why}"
        checks.append(
            DoctorCheck.fail(name, detail, fix) if required else DoctorCheck.warn(name, detail, fix)
        )
    return checks


async def event_sources_check(
    label: str, settings: AsteriskSettings, ari: AriClient
) -> DoctorCheck:
    """Open the event WebSocket as the gateway does (under a name of the doctor's own),
    subscribe it to every channel and bridge (:data:`EVENT_SOURCES`) and see an event
    arrive that only that subscription delivers: a bridge created (and removed again)."""
    name = f"{label} ARI events (every channel and bridge)"
    app = f"{settings.app}-doctor-{secrets.token_hex(3)}"
    bridge = f"{app}-bridge"
    try:
        ws = await ari.open_events([app])
    except AriError as exc:
        return DoctorCheck.fail(name, str(exc), ari_fix(exc, settings))
    try:
        try:
            await ari.subscribe(app, EVENT_SOURCES)
            await ari.request(
                "POST",
                f"/bridges/{bridge}",
                params={"type": "mixing"},
                template="/bridges/{bridgeId}",
            )
        except AriError as exc:
            return DoctorCheck.fail(name, str(exc), ari_fix(exc, settings))

        async def arrives() -> None:
            async for event in ari.iter_events(ws):
                if event.get("bridge", {}).get("id") == bridge:
                    return

        try:
            await asyncio.wait_for(arrives(), EVENT_WAIT)
        except TimeoutError:
            return DoctorCheck.fail(
                name,
                f"no event within {EVENT_WAIT:g} s of a bridge being created",
                "Medlytt needs the events of every channel and bridge: check that "
                "res_ari_events.so and res_ari_applications.so are loaded",
            )
        finally:
            with contextlib.suppress(AriError):
                await ari.request("DELETE", f"/bridges/{bridge}", template="/bridges/{bridgeId}")
        return DoctorCheck.ok(
            name,
            "the event WebSocket delivers every channel's and bridge's events "
            "(write access too: read_only = no)",
        )
    finally:
        await ws.close()


async def app_check(label: str, settings: AsteriskSettings, ari: AriClient) -> DoctorCheck:
    """Is a Medlytt connected under ``app`` now (information for whoever runs the doctor)?"""
    name = f"{label} ARI app"
    try:
        apps = {a.get("name") for a in (await ari.get("/applications") or [])}
    except AriError as exc:
        return DoctorCheck.warn(name, f"cannot list applications: {exc}", ari_fix(exc, settings))
    if settings.app in apps:
        return DoctorCheck.ok(name, f"{settings.app!r} is connected (a Medlytt runs)")
    return DoctorCheck.ok(
        name,
        f"{settings.app!r} is free; dialplan hooks reach it as Stasis({settings.app},...)",
    )


# ------------------------------------------------------------------------------------ AMI


async def check_ami(label: str, settings: AsteriskSettings) -> list[DoctorCheck]:
    """Login, event timestamps, the read classes queue events need, the queues."""
    name = f"{label} AMI"
    ami = AmiClient.from_settings(settings, reject=lambda kind, detail: None)
    try:
        try:
            await ami.connect()
        except AmiError as exc:
            return [DoctorCheck.fail(name, str(exc), ami_fix(exc, settings))]
        where = f"{settings.ami_host}:{settings.ami_port}"
        checks = [DoctorCheck.ok(name, f"{where} as {settings.ami_user!r}: {ami.banner}")]
        checks.append(await timestamp_check(label, ami))
        checks.append(await read_classes_check(label, settings, ami))
        checks.append(await queues_check(label, ami))
        checks.append(await talk_detect_check(label, ami))
        return checks
    finally:
        await ami.close()


async def timestamp_check(label: str, ami: AmiClient) -> DoctorCheck:
    """Send a UserEvent and read it back: does it arrive, with a ``Timestamp``?"""
    name = f"{label} AMI events (timestampevents)"
    tag = f"MedlyttDoctor{secrets.token_hex(3)}"

    async def arrives() -> dict[str, str]:
        async for event in ami.events():
            if event.get("Event") == "UserEvent" and event.get("UserEvent") == tag:
                return event
        raise AmiError("AMI connection closed")

    waiting = asyncio.ensure_future(arrives())
    try:
        response = await ami.action("UserEvent", UserEvent=tag)
        if response.get("Response") != "Success":
            waiting.cancel()
            return DoctorCheck.warn(
                name,
                f"cannot send a test event: {response.get('Message', response)}",
                "give the AMI user write = all (or at least user) in manager.conf",
            )
        event = await asyncio.wait_for(waiting, EVENT_WAIT)
    except (TimeoutError, AmiError):
        return DoctorCheck.fail(
            name,
            f"no event arrived within {EVENT_WAIT:g} s",
            "the AMI user must receive events: read = all in its manager.conf section",
        )
    finally:
        waiting.cancel()
    if "Timestamp" not in event:
        return DoctorCheck.fail(
            name,
            "events carry no Timestamp: timestampevents is off",
            "set timestampevents = yes in manager.conf [general], then 'manager reload': "
            "Medlytt takes event times from Asterisk (waits, talk times)",
        )
    return DoctorCheck.ok(name, "events arrive with Asterisk's timestamps")


async def read_classes_check(label: str, settings: AsteriskSettings, ami: AmiClient) -> DoctorCheck:
    """Does the AMI user's ``read`` in manager.conf include the classes queue events use?"""
    name = f"{label} AMI queue events (read classes)"
    fix = f"set read = all for [{settings.ami_user}] in manager.conf, then 'manager reload'"
    try:
        response = await ami.action("GetConfig", Filename="manager.conf")
    except AmiError as exc:
        return DoctorCheck.warn(name, f"cannot read manager.conf: {exc}", fix)
    if response.get("Response") != "Success":
        return DoctorCheck.warn(
            name,
            f"cannot read manager.conf to check: {response.get('Message', '?')}",
            f"make sure [{settings.ami_user}] has read = all (or at least "
            f"{','.join(READ_CLASSES)})",
        )
    read = _user_read(response, settings.ami_user)
    if read is None:
        return DoctorCheck.warn(
            name, f"no section [{settings.ami_user}] found in manager.conf", fix
        )
    missing = [c for c in READ_CLASSES if "all" not in read and c not in read]
    if missing:
        return DoctorCheck.fail(
            name,
            f"read = {','.join(sorted(read))} lacks {', '.join(missing)}: queue events would "
            "not arrive",
            fix,
        )
    return DoctorCheck.ok(name, f"read = {','.join(sorted(read))}")


def _user_read(response: dict[str, str], user: str) -> set[str] | None:
    """The ``read`` classes of ``[user]`` from a ``GetConfig`` answer (never its secret)."""
    category = next(
        (
            k.split("-", 1)[1]
            for k, v in response.items()
            if k.startswith("Category-") and v == user
        ),
        None,
    )
    if category is None:
        return None
    classes: set[str] = set()
    for key, value in response.items():
        if key.startswith(f"Line-{category}-"):
            option, _, setting = value.partition("=")
            if option.strip() == "read":
                classes |= {c.strip().lower() for c in setting.split(",") if c.strip()}
    return classes


async def queues_check(label: str, ami: AmiClient) -> DoctorCheck:
    """Are there queues for Medlytt to measure?"""
    name = f"{label} queues"
    try:
        status = await ami.action_list("QueueStatus")
    except AmiError as exc:
        return DoctorCheck.fail(
            name, f"QueueStatus failed: {exc}", "check that app_queue.so is loaded"
        )
    queues = sorted({m.get("Queue", "") for m in status if m.get("Event") == "QueueParams"})
    if not queues:
        return DoctorCheck.warn(
            name, "Asterisk has no queues", "define queues in queues.conf: Medlytt measures them"
        )
    return DoctorCheck.ok(name, f"{len(queues)}: {', '.join(queues)}")


async def talk_detect_check(label: str, ami: AmiClient) -> DoctorCheck:
    """Does the dialplan switch on TALK_DETECT anywhere (who talks when: the talk.started
    and talk.stopped events that competence modules such as phone technique read)?"""
    name = f"{label} dialplan TALK_DETECT"
    fix = (
        "add Set(TALK_DETECT(set)=) before Queue() and in the queue's pre-dial subroutine "
        "(Queue(...,b(queue-member-predial^s^1))): `medlytt init` prints both"
    )
    try:
        dialplan = await ami.action_list("ShowDialPlan")
    except AmiError as exc:
        return DoctorCheck.warn(name, f"cannot read the dialplan: {exc}", fix)
    found = sorted(
        {
            f"{row.get('Context')},{row.get('Extension')},{row.get('Priority')}"
            for row in dialplan
            if "talk_detect(set)" in row.get("AppData", "").replace(" ", "").lower()
        }
    )
    if not found:
        return DoctorCheck.warn(
            name,
            "no Set(TALK_DETECT(set)=) in the dialplan: no talk.started/talk.stopped events, "
            "so modules that read who talks when see silence",
            fix,
        )
    more = f" and {len(found) - 3} more" if len(found) > 3 else ""
    return DoctorCheck.ok(name, f"set at {', '.join(found[:3])}{more}")


def plugin_section(plugin_configs: dict[str, Any]) -> Instances[AsteriskSettings] | None:
    """The validated ``[asterisk]`` section, None when the plugin is disabled."""
    config = plugin_configs.get("asterisk")
    return config if isinstance(config, Instances) else None
