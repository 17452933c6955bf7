"""The deployment files: systemd unit, Dockerfile and compose.yaml, linted without a Docker engine."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read(REPO / "deploy" / "newsmon.service")
    return parser


def test_systemd_unit_runs_the_daemon_and_restarts_on_failure():
    service = unit()["Service"]
    assert service["Type"] == "simple"
    assert service["Restart"] == "on-failure"
    assert service["ExecStart"].split()[-1] == "run"
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"  # SIGHUP reloads the config
    assert service["KillMode"] == "mixed"  # SIGTERM to the daemon only; it stops its children
    assert service["User"] != "root"
    assert unit()["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_unit_passes_systemd_analyze_verify(tmp_path):
    # verify insists that ExecStart exists: point it at a binary this machine has.
    text = (REPO / "deploy" / "newsmon.service").read_text()
    (tmp_path / "newsmon.service").write_text(text.replace("/opt/newsmon/bin/newsmon", "/bin/true"))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "newsmon.service")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def dockerfile() -> list[tuple[str, str]]:
    lines, pending = [], ""
    for raw in (REPO / "Dockerfile").read_text().splitlines():
        if raw.lstrip().startswith("#") or not raw.strip():
            continue
        pending += raw.rstrip("\\").strip() + " "
        if not raw.endswith("\\"):
            instruction, _, rest = pending.strip().partition(" ")
            lines.append((instruction.upper(), rest))
            pending = ""
    return lines


def test_dockerfile_runs_as_a_non_root_user_with_the_database_on_a_volume():
    instructions = dockerfile()
    users = [rest for name, rest in instructions if name == "USER"]
    assert users and users[-1] not in ("root", "0")
    volumes = [rest for name, rest in instructions if name == "VOLUME"]
    assert volumes == ['["/data"]']
    env = " ".join(rest for name, rest in instructions if name == "ENV")
    assert "NEWSMON_DATABASE_URL=sqlite:////data/newsmon.db" in env
    assert instructions[0][0] == "FROM"
    assert ("ENTRYPOINT", '["newsmon"]') in instructions
    for name, rest in instructions:
        if name == "COPY":
            *sources, _ = rest.split()
            assert all((REPO / source).exists() for source in sources), rest


def test_compose_runs_the_daemon_against_postgresql():
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "newsmon"}
    assert services["db"]["image"].startswith("postgres:")
    daemon = services["newsmon"]
    assert daemon["build"] == "."
    assert daemon["command"][0] == "run"
    assert daemon["depends_on"]["db"]["condition"] == "service_healthy"
    assert daemon["environment"]["NEWSMON_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert daemon["init"] is True
    named = {volume.split(":")[0] for service in services.values() for volume in service["volumes"]}
    assert {"pgdata", "newsmon-data"} <= named and set(compose["volumes"]) <= named
