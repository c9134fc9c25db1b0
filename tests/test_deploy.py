"""deploy/ stays correct: systemd units, the environment file, nginx and the container
file agree with the code and with docs/operations.md."""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest

from gateway.cli.main import main
from gateway.ops.cohorts_web import UPLOAD_BYTES
from gateway.server.request_guard import MAX_REQUEST_BYTES

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read(path)
    return parser


def _parses(argv: list[str]) -> click.Command:
    """Parse a `learnline COMMAND ...` line as the CLI would; raise on anything unknown."""
    command = main.commands[argv[1]]
    command.make_context(argv[1], argv[2:])
    return command


def test_there_is_a_unit_for_the_web_server_and_one_for_the_worker():
    assert [u.name for u in UNITS] == ["learnline-web.service", "learnline-worker.service"]


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_each_unit_runs_a_real_command_as_a_hardened_dedicated_user(unit: Path):
    service = _unit(unit)["Service"]
    argv = shlex.split(service["ExecStart"])
    assert argv[0] == "/opt/learnline/venv/bin/learnline"
    command = _parses(argv)
    assert command.name == ("serve" if "web" in unit.name else "worker")
    assert service["User"] == service["Group"] == "learnline"
    assert service["Restart"] in ("on-failure", "always")
    assert service["EnvironmentFile"] == "/etc/learnline/learnline.env"
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict",
                       "ProtectHome": "yes", "PrivateTmp": "yes", "CapabilityBoundingSet": "",
                       "StateDirectory": "learnline"}.items():
        assert service[key] == value, key


def test_systemd_never_gives_up_on_the_worker_nor_cuts_short_its_last_record():
    """A worker in a crash loop (a database refusing writes) is started again for as long
    as it takes, not left stopped after systemd's default five starts in ten seconds; and
    stopping it waits longer than it keeps trying to record a message the carrier
    accepted, so a stop never turns that message into a second SMS."""
    from gateway.outbox.worker import ACCEPTED_PATIENCE_SECONDS

    unit = _unit(DEPLOY / "systemd" / "learnline-worker.service")
    assert unit["Unit"]["StartLimitIntervalSec"] == "0"
    assert int(unit["Service"]["TimeoutStopSec"]) > ACCEPTED_PATIENCE_SECONDS


def test_the_web_unit_serves_behind_nginx_without_the_simulator():
    argv = shlex.split(_unit(DEPLOY / "systemd" / "learnline-web.service")["Service"]
                       ["ExecStart"])
    assert "--no-simulator" in argv and "--no-worker" in argv
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    nginx = (DEPLOY / "nginx" / "learnline.conf").read_text()
    port = argv[argv.index("--port") + 1]
    assert set(re.findall(r"proxy_pass (\S+);", nginx)) == {f"http://127.0.0.1:{port}"}


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_systemd_accepts_each_unit(unit: Path, tmp_path: Path):
    """systemd-analyze verify, with the command pointed at this installation's script."""
    script = Path(sys.executable).parent / "learnline"
    copy = tmp_path / unit.name
    copy.write_text(unit.read_text().replace("/opt/learnline/venv/bin/learnline", str(script)))
    result = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and not result.stdout + result.stderr, result.stderr


def test_the_environment_file_names_only_settings_learnline_reads():
    example = (DEPLOY / "learnline.env.example").read_text()
    names = re.findall(r"^(LEARNLINE_[A-Z_]+)=", example, flags=re.MULTILINE)
    source = "\n".join(p.read_text() for p in (ROOT / "gateway").rglob("*.py"))
    source += (DEPLOY / "gunicorn.conf.py").read_text()
    assert {"LEARNLINE_DB", "LEARNLINE_CARRIERS", "LEARNLINE_SECRET_KEY",
            "LEARNLINE_TRUSTED_PROXIES", "LEARNLINE_METRICS_DIR"} <= set(names)
    assert [n for n in names if f'"{n}"' not in source] == []
    assert re.search(r"^LEARNLINE_TRUSTED_PROXIES=127\.0\.0\.1,::1$", example,
                     flags=re.MULTILINE)  # nginx, on this machine


def test_nginx_limits_bodies_like_the_gateway_and_keeps_metrics_local():
    nginx = (DEPLOY / "nginx" / "learnline.conf").read_text()
    assert re.search(r"client_max_body_size (\d+)k;", nginx).group(1) == str(
        MAX_REQUEST_BYTES // 1024)
    # The cohort upload alone takes more, streamed on: more than Learnline takes there,
    # so that Learnline's own page tells an administrator their file is too large.
    upload = re.search(r"location ~ \^/admin/programs/\[\^/\]\+/cohorts\$ \{(.*?)\}", nginx,
                       flags=re.DOTALL).group(1)
    assert int(re.search(r"client_max_body_size (\d+)m;", upload).group(1)) * 1024 * 1024 \
        > 2 * UPLOAD_BYTES
    assert "proxy_request_buffering off;" in upload
    assert re.findall(r"client_max_body_size", nginx) == ["client_max_body_size"] * 2
    metrics = re.search(r"location = /metrics \{(.*?)\}", nginx, flags=re.DOTALL).group(1)
    assert "deny all;" in metrics and "allow 127.0.0.1;" in metrics
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in nginx
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in nginx and "return 301 https://" in nginx


def test_the_container_installs_with_the_documented_command():
    docs = (ROOT / "docs" / "operations.md").read_text()
    [documented] = re.findall(r"^python3 -m venv .* && .*pip install .*$", docs,
                              flags=re.MULTILINE)
    containerfile = (DEPLOY / "Containerfile").read_text()
    run = re.search(r"^RUN (python3 -m venv .*?)$\n\s+(&& .*pip install .*?)$", containerfile,
                    flags=re.MULTILINE)
    assert run is not None
    first_line = run.group(1).removesuffix("\\").strip()
    installed = f"{first_line} {run.group(2).strip()}"
    # The path, with the extras asked for at build time (--build-arg EXTRAS=hub): the
    # shell RUN uses gives the documented command, or the documented hub install.
    path = '"/opt/learnline/src${EXTRAS:+[$EXTRAS]}"'
    assert re.search(r'^ARG EXTRAS=""$', containerfile, flags=re.MULTILINE)
    assert installed.replace("--no-cache-dir ", "").replace(path, "/opt/learnline/src") \
        == documented
    hub_install = re.search(r"pip install '(/opt/learnline/src\[hub\])'$",
                            (ROOT / "docs" / "sync.md").read_text(), flags=re.MULTILINE)
    assert hub_install is not None
    for extras, expected in (("", "/opt/learnline/src"), ("hub", hub_install.group(1))):
        shell = subprocess.run(["sh", "-c", f"echo {path}"], env={"EXTRAS": extras},
                               capture_output=True, text=True, check=True)
        assert shell.stdout.strip() == expected
    assert re.search(r'^CMD \["learnline", "serve", "--no-worker"', containerfile,
                     flags=re.MULTILINE)


def test_the_documented_way_to_run_commands_reads_the_environment_file_whole(tmp_path: Path):
    """docs/operations.md's `as_learnline` and backup cron line give a command the
    environment file's values as the units get them: quoted values with spaces, `$` and
    `<>` kept, comments skipped (a value cut at its space failed every command, and every
    night's backup)."""
    docs = (ROOT / "docs" / "operations.md").read_text()
    [helper] = re.findall(r"^as_learnline\(\) \{ (.*) \}$", docs, flags=re.MULTILINE)
    [cron] = re.findall(r"^15 3 \* \* \* learnline cd /var/lib/learnline && (.*)$", docs,
                        flags=re.MULTILINE)
    env_file = tmp_path / "learnline.env"
    env_file.write_text(
        "# a comment\nLEARNLINE_TUTOR_HOURS=\"Mon-Fri 08-17\"\n"
        "LEARNLINE_BADGE_ISSUER=\"Learn Kano <badges@learn.example.org>\"\n"
        "LEARNLINE_ADMIN_TOKEN='a$b`c\\d'\nLEARNLINE_DB=/var/lib/learnline/learnline.db\n")
    printed = tmp_path / "env.json"
    script = tmp_path / "dump.py"
    script.write_text("import json, os\n"
                      f"json.dump(dict(os.environ), open({str(printed)!r}, 'w'))\n")
    dump = f"{sys.executable} {script}"
    helper = helper.replace("runuser -u learnline -- ", "").replace(
        "/etc/learnline/learnline.env", str(env_file))
    cron = cron.replace("/etc/learnline/learnline.env", str(env_file)).replace(
        "/opt/learnline/venv/bin/learnline backup /var/lib/learnline/backup-$(date +\\%a).db",
        dump)
    for command in (f"as_learnline() {{ {helper} }}; as_learnline {dump}", cron):
        printed.unlink(missing_ok=True)
        subprocess.run(["sh", "-c", command], check=True, env={"PATH": os.environ["PATH"]})
        environ = json.loads(printed.read_text())
        assert environ["LEARNLINE_TUTOR_HOURS"] == "Mon-Fri 08-17"
        assert environ["LEARNLINE_BADGE_ISSUER"] == "Learn Kano <badges@learn.example.org>"
        assert environ["LEARNLINE_ADMIN_TOKEN"] == "a$b`c\\d"
        assert environ["LEARNLINE_DB"] == "/var/lib/learnline/learnline.db"
    assert "xargs" not in docs
