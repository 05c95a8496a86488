import subprocess
import textwrap
from pathlib import Path

import pytest
from medlytt.app import load_plugins
from medlytt.config import ConfigError, load_config
from support import MEDLYTT, medlytt_env


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "medlytt.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_defaults_without_a_file():
    config = load_config(None, environ={})
    assert (config.server.host, config.server.port) == ("127.0.0.1", 8470)
    assert config.plugins.breaker_failures == 5


def test_environment_overrides_file_and_converts_types(tmp_path):
    path = write(
        tmp_path,
        """
        [server]
        port = 9000
        [demo]
        speed = 2.0
    """,
    )
    config = load_config(
        path,
        environ={
            "MEDLYTT_SERVER__PORT": "9100",
            "MEDLYTT_PLUGINS__MODULES": '["sample_plugins.recorder"]',
            "MEDLYTT_DEMO__SEED": "7",
            "UNRELATED": "x",
        },
    )
    assert config.server.port == 9100
    assert config.plugins.modules == ["sample_plugins.recorder"]
    _, plugin_configs = load_plugins(config)
    assert plugin_configs["demo"].seed == 7
    assert plugin_configs["demo"].speed == 2.0


def test_secret_references_are_resolved_and_redacted(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-file\n")
    path = write(
        tmp_path,
        f"""
        [extra_secrets]
        api_token = {{ "$env" = "TOKEN" }}
        ami_password = {{ "$file" = "{secret_file}" }}
    """,
    )
    config = load_config(path, environ={"TOKEN": "from-env"})
    sections = config.plugin_sections()
    assert sections["extra_secrets"] == {"api_token": "from-env", "ami_password": "from-file"}
    assert config.redacted()["extra_secrets"] == {"api_token": "***", "ami_password": "***"}


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("[server]\nprot = 1\n", {}, "server.prot: unknown key (from config file"),
        ('[server]\nport = "eighty"\n', {}, "server.port: expected `int`, got `str`"),
        ("[server]\nport = 99999\n", {}, "server.port: expected `int` <= 65535"),
        (
            "",
            {"MEDLYTT_SERVER__PORT": "x"},
            "server.port: expected `int`, got `str` "
            "(from environment variable MEDLYTT_SERVER__PORT)",
        ),
        ("[nosuchplugin]\nx = 1\n", {}, "unknown section [nosuchplugin]"),
        ("[demo]\nspeed = -1\n", {}, "demo.speed: expected `float` > 0.0"),
        (  # a value in a table of named entries: the entry's name is in the key
            '[asterisk.agents]\n"PJSIP/1001" = "Ingrid"\n"PJSIP/1002" = 7\n',
            {},
            "asterisk.agents.PJSIP/1002: expected `str`, got `int`",
        ),
        ('[demo]\nenabled = "sometimes"\n', {}, "demo.enabled: expected true or false"),
        (
            "[queue_metrics]\nwait_buckets = [10, 5]\n",
            {},
            "wait_buckets must be positive, increasing",
        ),
        ("[server\n", {}, "is not valid TOML"),
        (
            '[x]\nk = {"$env" = "NOPE_NOT_SET"}\n',
            {},
            "x.k: environment variable NOPE_NOT_SET is not set",
        ),
    ],
)
def test_bad_config_names_the_key(tmp_path, text, env, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_plugins(load_config(path, environ=env))
    assert message in str(info.value)


def test_unreadable_file(tmp_path):
    with pytest.raises(ConfigError, match=r"cannot read config file .*missing\.toml: No such file"):
        load_config(tmp_path / "missing.toml", environ={})


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MEDLYTT, *args], env=medlytt_env(**env), capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("command", ["serve", "check-config", "plugins"])
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[server]\nprot = 8000\n", "server.prot: unknown key"),
        ('[server]\nport = "eighty"\n', "server.port: expected `int`, got `str`"),
        (None, "cannot read config file"),
    ],
)
def test_commands_exit_2_on_bad_config(tmp_path, command, text, expected):
    path = tmp_path / "medlytt.toml"
    if text is not None:
        path.write_text(text)
    else:
        path.mkdir()  # a directory is not a readable config file
    result = run_cli(command, "--config", str(path))
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config_prints_effective_config_without_secrets(tmp_path):
    path = write(
        tmp_path,
        """
        [longcalls]
        threshold_seconds = 90
    """,
    )
    result = run_cli("check-config", "--config", str(path), MEDLYTT_SERVER__PORT="8555")
    assert result.returncode == 0, result.stderr
    assert '"port": 8555' in result.stdout
    assert '"threshold_seconds": 90.0' in result.stdout
    assert "config OK" in result.stderr


def test_a_plugin_section_can_disable_the_plugin(tmp_path):
    path = write(tmp_path, "[queue_metrics]\nenabled = false\n")
    host, configs = load_plugins(load_config(path, environ={}))
    assert host.get("queue_metrics") is None
    assert "queue_metrics" not in configs
    assert host.disabled["queue_metrics"] == "enabled = false in config"
    result = run_cli("plugins", "--config", str(path))
    line = next(li for li in result.stdout.splitlines() if li.startswith("queue_metrics"))
    assert "disabled (enabled = false in config)" in line


def test_a_secret_file_that_is_not_text_is_a_config_error(tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"\xff\xfe\x00binary")
    path = write(tmp_path, f'[asterisk]\nami_secret = {{ "$file" = "{secret}" }}\n')
    result = run_cli("check-config", "--config", str(path))
    assert result.returncode == 2
    assert f"asterisk.ami_secret: secret file {secret} is not UTF-8 text" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_port_out_of_range_is_refused_before_anything_starts():
    result = run_cli("serve", "--port", "70000")
    assert result.returncode == 2
    assert "70000 is not in the range 0<=x<=65535" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"mystery_calls": {"time_zone": "Europe"}}, "mystery_calls: time_zone 'Europe'"),
        ({"queue_metrics": {"timezone": "Europe"}}, "queue_metrics: timezone 'Europe'"),
        ({"queue_intervals": {"timezone": "Mars/Olympus"}}, "queue_intervals: timezone"),
    ],
)
def test_a_folder_or_unknown_time_zone_is_a_config_error_not_a_traceback(tmp_path, section, key):
    from medlytt.testing import make_config

    with pytest.raises(ConfigError) as info:
        load_plugins(make_config(section, db_path=tmp_path / "m.db"))
    assert key in str(info.value) and "is not a time zone name" in str(info.value)
