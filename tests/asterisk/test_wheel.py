"""The wheel and the sdist install into a fresh virtual environment and work next to a real
Asterisk: `medlytt init`, `medlytt doctor` against the sandbox (all green, with the version
warning when the sandbox's Asterisk has a known defect) and `medlytt serve` answering.

Built from this working tree (its tracked and new files, not what .gitignore leaves out)
with setuptools' PEP 517 hooks, no build isolation: the `build` package is not needed.  The
fresh environment has no system site-packages; its dependencies come from the package
index (pip's cache makes later runs fast; the time is printed in the test's output).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
from medlytt.gateways.asterisk.diagnose import version_defects
from medlytt.gateways.asterisk.sandbox import AsteriskSandbox
from medlytt.gateways.asterisk.sandbox.config import walkthrough_toml
from support import ROOT, free_port

#: Seconds installing the wheel with its dependencies may take (a slow index on CI).
INSTALL_TIMEOUT = 900
#: Files the package must carry besides Python modules (read at run time).
PACKAGE_DATA = (
    "medlytt/gateways/asterisk/init/medlytt.toml",
    "medlytt/gateways/asterisk/init/asterisk.txt",
    "medlytt/gateways/asterisk/init/medlytt.service",
    "medlytt/gateways/asterisk/sandbox_conf/extensions.conf",
)


def clean_env(**extra: str) -> dict[str, str]:
    """No PYTHONPATH (the tests' own) and no MEDLYTT_* settings: only the venv counts."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("MEDLYTT_") and k != "PYTHONPATH"
    }
    env.update(extra)
    return env


def source_copy(folder: Path) -> Path:
    """The working tree's files as git sees them (tracked and new, nothing ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return folder


def build(source: Path, out: Path) -> tuple[Path, Path]:
    """(wheel, sdist) built by setuptools' PEP 517 hooks in ``source``."""
    out.mkdir()
    code = (
        "import sys; from setuptools import build_meta as b; "
        "o = sys.argv[1]; w = b.build_wheel(o); s = b.build_sdist(o); print('BUILT', w, s)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(out)],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
        env=clean_env(),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # no setuptools warnings (SetuptoolsDeprecationWarning and the like); distutils' lower-case
    # "warning: byte-compiling is disabled" only echoes PYTHONDONTWRITEBYTECODE
    assert "Warning" not in done.stderr, done.stderr
    built = [line for line in done.stdout.splitlines() if line.startswith("BUILT ")]
    _, wheel_name, sdist_name = built[-1].split()
    return out / wheel_name, out / sdist_name


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the built wheel installed; its bin folder."""
    base = tmp_path_factory.mktemp("wheel")
    wheel, sdist = build(source_copy(base / "src"), base / "dist")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for data in PACKAGE_DATA:
        assert data in names, f"{data} missing from {wheel.name}"
    assert not [n for n in names if n.startswith(("tests/", "medlytt_longcalls"))]
    with tarfile.open(sdist) as archive:
        members = {m.name.split("/", 1)[1] for m in archive.getmembers() if "/" in m.name}
    assert {"pyproject.toml", "README.md", "gateways/asterisk/init/medlytt.service"} <= members
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    started = time.monotonic()
    pip = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
        env=clean_env(),
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    print(
        f"wheel {wheel.name} installed with its dependencies in {time.monotonic() - started:.0f} s"
    )
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import medlytt; print(medlytt.__file__)"],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=base,
        check=True,
    ).stdout
    assert where.startswith(str(venv)), where  # the wheel's code, not this checkout's
    return venv / "bin"


def test_the_wheel_installs_and_runs_init_doctor_and_serve(
    installed: Path, asterisk_sandbox: AsteriskSandbox, tmp_path: Path
):
    medlytt = str(installed / "medlytt")

    def run(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [medlytt, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=clean_env(),
            cwd=tmp_path,
        )

    init = run("init")
    assert init.returncode == 0, init.stderr
    assert "timestampevents = yes" in init.stdout
    config = tmp_path / "medlytt.toml"
    port = free_port()
    text = config.read_text().replace("port = 8470", f"port = {port}")
    config.write_text(text + "\n" + walkthrough_toml(asterisk_sandbox.asterisk_section))

    doctor = run("doctor", "--config", "medlytt.toml", "--json")
    checks = json.loads(doctor.stdout)["checks"]
    assert doctor.returncode == 0, [c for c in checks if c["status"] == "fail"]
    version = asterisk_sandbox.ari().request("GET", "/asterisk/info")["system"]["version"]
    warned = [c["detail"] for c in checks if c["status"] == "warn"]
    for issue, _ in version_defects(version):  # the sandbox's 22.10.1: issue 1966
        assert any(f"Asterisk issue {issue}" in w for w in warned), warned
    assert len(warned) == len(version_defects(version)), warned

    log = tmp_path / "serve.log"
    with log.open("w") as out:
        serve = subprocess.Popen(
            [medlytt, "serve", "--config", "medlytt.toml"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=clean_env(),
            cwd=tmp_path,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline and ready is None:
            assert serve.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                    ready = json.loads(response.read())
            except OSError:
                time.sleep(0.3)
        assert ready is not None, log.read_text()
        assert ready["gateways"] == {"asterisk": True}, ready
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
            assert json.loads(response.read())["status"] == "ok"
        time.sleep(2)  # a few seconds of serving
        assert serve.poll() is None, log.read_text()
    finally:
        serve.terminate()
        assert serve.wait(30) == 0, log.read_text()
