"""No secret or token in any output: a whole scenario, everything it prints searched.

Secrets are given the three ways Medlytt takes them (inline in the config file, by
``$env`` and by ``$file``), a user token is made with the CLI, and then Medlytt is served
and used well and badly: wrong tokens, an oversize ``Authorization`` header carrying the
real token, a PBX that cannot be reached (its gateway logs every failed attempt), a bad
config, the user and token commands.  Every log line, response status line, header and
body, and every CLI output is collected; none may contain a secret.  The one place a token
may appear is the standard output of ``medlytt token create``, which exists to show it.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request

from support import MEDLYTT, free_port, medlytt_env, start_server

ARI_PASSWORD = "ari-inline-Xq7wz"
AMI_SECRET = "ami-env-Zr4kd"
METRICS_TOKEN = "scrape-file-Kp2mv"
URL_PASSWORD = "url-pass-Hq3"


def run(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run([MEDLYTT, *args], env=env, capture_output=True, text=True, timeout=60)
    return f"$ medlytt {' '.join(args)}\nexit {done.returncode}\n{done.stdout}{done.stderr}"


def fetch(url: str, headers: dict[str, str] | None = None) -> str:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return f"{response.status} {dict(response.headers)} {response.read().decode()}"
    except urllib.error.HTTPError as exc:
        return f"{exc.code} {dict(exc.headers)} {exc.read().decode()}"


def raw(port: int, request: bytes) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def test_a_whole_scenario_prints_no_secret(tmp_path):
    secret_file = tmp_path / "metrics-token"
    secret_file.write_text(METRICS_TOKEN + "\n")
    unreachable = free_port()  # nothing listens: the gateway fails and retries, logging
    config = tmp_path / "medlytt.toml"
    config.write_text(
        f"""
[server]
metrics_token = {{ "$file" = "{secret_file}" }}

[storage]
path = "{tmp_path / "m.db"}"

[asterisk]
ari_url = "http://127.0.0.1:{unreachable}"
ari_password = "{ARI_PASSWORD}"
ami_port = {unreachable}
ami_secret = {{ "$env" = "TEST_AMI_SECRET" }}
request_timeout_seconds = 1
reconnect_max_seconds = 1
"""
    )
    port = free_port()
    env = medlytt_env(
        TEST_AMI_SECRET=AMI_SECRET,
        MEDLYTT_CONFIG=str(config),
        MEDLYTT_SERVER__PORT=str(port),
    )
    outputs = [run("check-config", env=env), run("user", "add", "ada", "--role", "admin", env=env)]
    created = subprocess.run(
        [MEDLYTT, "token", "create", "ada", "--label", "scan"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    token = created.stdout.strip()
    assert token.startswith("mlt_") and token not in created.stderr
    outputs += [run("token", "list", "ada", env=env), run("user", "list", env=env)]

    server = start_server([MEDLYTT, "serve"], env, tmp_path / "serve.log")
    try:
        url = server.url
        time.sleep(2.5)  # a few failed gateway connections in the log
        wrong = "mlt_" + "W" * 43
        outputs += [
            fetch(f"{url}/api/me", {"Authorization": f"Bearer {token}"}),
            fetch(f"{url}/api/me", {"Authorization": f"Bearer {wrong}"}),
            fetch(f"{url}/api/me", {"Authorization": f"Basic {token}"}),
            fetch(f"{url}/api/gateways", {"Authorization": f"Bearer {token}"}),
            fetch(f"{url}/metrics"),
            fetch(f"{url}/metrics", {"Authorization": f"Bearer {token}"}),
            fetch(f"{url}/api/nowhere?token={token}"),
            raw(
                port,
                b"GET /api/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                + token.encode()
                + b"A" * 9000
                + b"\r\n\r\n",
            ),
        ]
        assert fetch(f"{url}/metrics", {"Authorization": f"Bearer {METRICS_TOKEN}"}).startswith(
            "200"
        )
    finally:
        assert server.terminate() == 0
    outputs.append(server.log.read_text())
    bad = tmp_path / "bad.toml"
    bad.write_text(
        config.read_text().replace(
            "[asterisk]", f'[asterisk]\nari_user = "medlytt"\nari_pasword = "{ARI_PASSWORD}"'
        )
    )
    outputs.append(run("check-config", "--config", str(bad), env=env))
    with_url = tmp_path / "url.toml"
    with_url.write_text(
        config.read_text().replace(
            f"http://127.0.0.1:{unreachable}", f"ftp://medlytt:{URL_PASSWORD}@127.0.0.1:1"
        )
    )
    outputs.append(run("check-config", "--config", str(with_url), env=env))

    everything = "\n".join(outputs)
    assert "config error" in everything and "401" in everything and "400" in everything
    assert "connect" in everything.lower()  # the gateway's failures were logged
    for secret in (ARI_PASSWORD, AMI_SECRET, METRICS_TOKEN, URL_PASSWORD, token, token[4:20]):
        assert secret not in everything, f"{secret[:8]}... found in output"


async def test_slow_clients_cannot_hold_connections(medlytt):
    """Fifty clients each trickle a request head and never finish it: each connection is
    closed after the idle limit (aiohttp's default would keep them an hour), and a normal
    request is served meanwhile."""
    import asyncio

    from aiohttp import web
    from medlytt.http_server import make_runner
    from medlytt.web import build_web_app, plugin_routes

    async with medlytt() as app:
        runner = make_runner(build_web_app(app, await plugin_routes(app)), idle_seconds=1.0)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            slow = []
            for _ in range(50):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                slow.append((reader, writer))
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert (await asyncio.wait_for(reader.read(), 5)).startswith(b"HTTP/1.1 200")
            for reader, writer in slow:
                assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by Medlytt
                writer.close()
        finally:
            await runner.cleanup()
