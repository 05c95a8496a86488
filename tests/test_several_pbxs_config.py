"""Several PBXs in one Medlytt: ``[asterisk.<name>]`` instances and qualified ids.

The real thing, two Asterisks feeding one Medlytt, is tests/asterisk/test_several_pbxs.py;
these check the config and the id rules without a PBX."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from medlytt import AgentState, AgentStateChanged, CallAnswered, CallTransferred, Instances
from medlytt.app import load_plugins
from medlytt.config import ConfigError
from medlytt.gateways.asterisk.qualify import Qualifier
from medlytt.testing import make_config

PBX = {
    "ari_url": "http://127.0.0.1:1/ari",
    "ari_password": "p",
    "ami_secret": "s",
}
AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def asterisk_config(tmp_path, section):
    _, configs = load_plugins(make_config({"asterisk": section}, db_path=tmp_path / "m.db"))
    return configs["asterisk"]


def test_named_pbxs_are_instances_of_the_asterisk_section(tmp_path):
    config = asterisk_config(tmp_path, {"oslo": PBX, "bergen": {**PBX, "app": "mlt"}})
    assert isinstance(config, Instances)
    assert not config.default.configured  # no unnamed [asterisk] PBX
    assert sorted(config.named) == ["bergen", "oslo"]
    assert config.named["bergen"].app == "mlt"


def test_one_unnamed_pbx_is_as_before(tmp_path):
    config = asterisk_config(tmp_path, PBX)
    assert config.default.configured and config.named == {}


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"oslo": {**PBX, "ari_pasword": "x"}}, "asterisk.oslo.ari_pasword: unknown key"),
        ({"oslo": {"ari_url": "ftp://x"}}, "asterisk.oslo: ari_url must start with http"),
        ({"Oslo": PBX}, "asterisk.Oslo: an instance name is lower-case letters"),
        ({"asterisk": PBX}, "asterisk.asterisk: an instance may not be called 'asterisk'"),
    ],
)
def test_a_bad_named_pbx_is_a_config_error_naming_its_key(tmp_path, section, message):
    with pytest.raises(ConfigError) as info:
        asterisk_config(tmp_path, section)
    assert message in str(info.value)


def test_a_named_pbx_qualifies_every_id_and_sets_its_name_as_source():
    oslo = Qualifier("oslo")
    answered = oslo.event(
        CallAnswered(
            at=AT,
            source="asterisk",
            call_id="1733.12",
            queue="support",
            agent_id="PJSIP/1001",
            wait_seconds=3,
        )
    )
    assert (answered.call_id, answered.queue, answered.agent_id, answered.source) == (
        "oslo:1733.12",
        "oslo:support",
        "oslo:PJSIP/1001",
        "oslo",
    )
    moved = oslo.event(
        CallTransferred(
            at=AT, source="asterisk", call_id="c", from_agent_id="PJSIP/1", target="2002"
        )
    )
    assert (moved.from_agent_id, moved.to_agent_id, moved.target) == ("oslo:PJSIP/1", None, "2002")
    member = oslo.event(
        AgentStateChanged(
            at=AT, source="asterisk", agent_id="PJSIP/1", state=AgentState.PAUSED, queues=("a", "b")
        )
    )
    assert member.queues == ("oslo:a", "oslo:b")
    assert oslo.local("oslo:PJSIP/1") == "PJSIP/1" and oslo.local("bergen:PJSIP/1") is None


def test_a_named_pbx_qualifies_the_call_id_a_dialplan_passes():
    """Surveys get the linkedid from the dialplan (``Stasis(medlytt,survey,${linkedid})``):
    on a named PBX it must become the qualified id the queue events carry."""
    from types import SimpleNamespace

    from medlytt.gateways.asterisk.control import AriCallControl

    def port(qualifier):
        gateway = SimpleNamespace(
            name="oslo", settings=SimpleNamespace(app="medlytt"), qualifier=qualifier
        )
        return AriCallControl(gateway)  # type: ignore[arg-type]

    assert port(Qualifier("oslo")).call_id("1733.12") == "oslo:1733.12"
    assert port(None).call_id("1733.12") == "1733.12"
