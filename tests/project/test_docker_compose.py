"""Static checks of docker-compose.yaml and the Dockerfile (no Docker engine runs in CI)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
AIRFLOW_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
)
SANDBOX_PORT = 8900


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yaml").read_text())


def _interpolated_default(value: str) -> str:
    """What ``${VAR:-default}`` becomes when VAR is unset (Compose interpolation)."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_official_topology_plus_sandbox(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {
        "postgres",
        "redis",
        "airflow-init",
        "copernica-sandbox",
        *AIRFLOW_SERVICES,
    }
    commands = {name: compose["services"][name].get("command") for name in AIRFLOW_SERVICES}
    assert commands == {
        "airflow-apiserver": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag-processor",
        "airflow-worker": "celery worker",
        "airflow-triggerer": "triggerer",
    }
    env = compose["services"]["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert (
        env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    )
    assert compose["services"]["airflow-apiserver"]["ports"] == ["8080:8080"]


def test_image_is_built_from_the_repo_dockerfile_with_the_provider(compose: dict[str, Any]) -> None:
    images = set()
    for name in (*AIRFLOW_SERVICES, "airflow-init", "copernica-sandbox"):
        service = compose["services"][name]
        build = service["build"]
        assert (REPO / build["context"] / build["dockerfile"]).is_file(), name
        images.add(service["image"])
    assert len(images) == 1, images  # one image for Airflow and the sandbox
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM apache/airflow:3\.3\.2$", dockerfile, re.M)
    copied = re.findall(r"^COPY .*? (\S+) (\S+)$", dockerfile, re.M)
    assert all((REPO / src).exists() for src, _ in copied)
    assert "airflow_provider_copernica" in {src for src, _ in copied}
    assert '"apache-airflow==${AIRFLOW_VERSION}"' in dockerfile  # pip must not move Airflow


def test_every_long_running_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if name == "airflow-init":
            continue
        check = service.get("healthcheck")
        assert check and check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert service.get("restart") == "always", name


def test_startup_order_uses_health_and_completion_conditions(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in AIRFLOW_SERVICES:
        needs = services[name]["depends_on"]
        assert needs["postgres"] == {"condition": "service_healthy"}, name
        assert needs["redis"] == {"condition": "service_healthy"}, name
        assert needs["airflow-init"] == {"condition": "service_completed_successfully"}, name
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"] == {
        "condition": "service_healthy"
    }
    for name in ("airflow-worker", "airflow-triggerer"):  # they call Copernica
        assert services[name]["depends_on"]["copernica-sandbox"] == {"condition": "service_healthy"}
    init_env = services["airflow-init"]["environment"]
    assert init_env["_AIRFLOW_DB_MIGRATE"] == "true"


def test_connection_points_at_the_sandbox_service_and_is_one_variable_away_from_copernica(
    compose: dict[str, Any],
) -> None:
    from airflow.sdk.definitions.connection import Connection

    from airflow_provider_copernica.hooks.copernica import settings_from_connection
    from airflow_provider_copernica.sandbox import SANDBOX_ACCESS_TOKEN

    raw = compose["services"]["airflow-worker"]["environment"]["AIRFLOW_CONN_COPERNICA_DEFAULT"]
    assert raw.startswith("${COPERNICA_CONNECTION:-"), "one variable switches to a real account"
    conn = Connection.from_uri(_interpolated_default(raw), conn_id="copernica_default")
    settings = settings_from_connection(conn)
    sandbox = compose["services"]["copernica-sandbox"]
    assert settings.api_base == f"http://copernica-sandbox:{SANDBOX_PORT}/v4"
    assert settings.auth_url == f"http://copernica-sandbox:{SANDBOX_PORT}/authenticate"
    assert settings.access_token == SANDBOX_ACCESS_TOKEN
    assert sandbox["entrypoint"][:2] == ["copernica", "sandbox"]
    args = sandbox["entrypoint"]
    assert args[args.index("--port") + 1] == str(SANDBOX_PORT)
    assert args[args.index("--host") + 1] == "0.0.0.0"  # reachable from the other containers
    assert f"localhost:{SANDBOX_PORT}" in " ".join(sandbox["healthcheck"]["test"])


def test_dags_and_data_are_mounted(compose: dict[str, Any]) -> None:
    for name in (*AIRFLOW_SERVICES, "airflow-init"):
        volumes = compose["services"][name]["volumes"]
        assert "./dags:/opt/airflow/dags" in volumes, name
        assert "./data:/opt/airflow/data" in volumes, name  # $AIRFLOW_HOME/data: the output
    assert (REPO / "dags").is_dir()
    assert set(compose["volumes"]) == {"postgres-db-volume", "airflow-logs"}


def test_sandbox_command_in_compose_is_accepted_by_the_cli(compose: dict[str, Any]) -> None:
    from airflow_provider_copernica.cli.arguments import build_parser

    args = build_parser().parse_args(compose["services"]["copernica-sandbox"]["entrypoint"][1:])
    assert (args.command, args.port, args.host) == ("sandbox", SANDBOX_PORT, "0.0.0.0")
