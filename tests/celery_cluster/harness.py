"""docker-compose.yaml's Airflow, without Docker: its CeleryExecutor topology as processes.

The Airflow settings are the ``AIRFLOW__*`` environment of the compose file's
``x-airflow-common`` (read from the YAML, ``${VAR:-default}`` interpolated), with the compose
service names (``postgres``, ``redis``, ``airflow-apiserver``, ``copernica-sandbox``) replaced
by the local servers' 127.0.0.1 addresses. :data:`LOCAL_OVERRIDES` lists every setting changed
on top, and why. The components are the compose services' commands: ``api-server``,
``scheduler``, ``dag-processor`` and two ``celery worker`` processes (distinct Celery
hostnames and task-instance hostnames; the triggerer is left out: no DAG used here defers).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import psutil
import yaml
from e2e.harness import BIN, DAGS_FOLDER, REPO, AirflowStandalone, free_port

from .services import Postgres, Redis, stop_process_group

COMPOSE_FILE = REPO / "docker-compose.yaml"
WORKERS = ("worker1", "worker2")
COMPOSE_HOSTS = r"@(postgres|redis)\b|airflow-apiserver|copernica-sandbox"
# The task instance's ``hostname`` comes from [core] hostname_callable; both workers share
# this machine, so each names itself from the environment (see _write_hostname_module).
HOSTNAME_ENV = "COPERNICA_TEST_HOSTNAME"
HOSTNAME_MODULE = "copernica_test_hostname"

# Set on top of the compose environment; everything else is the compose file's.
LOCAL_OVERRIDES: dict[str, str] = {
    # The image ships the FAB provider; this test environment does not install it.
    "AIRFLOW__CORE__AUTH_MANAGER": (
        "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
    ),
    # The tests create every run themselves: no catch-up runs since the DAGs' start_date.
    "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
    # A SIGKILLed worker stops heartbeating; notice that in seconds, not the default 5 min.
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "3",
    "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "2",
    # ... and retry after seconds (operators without their own retry_delay).
    "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "3",
    # One task per worker at a time: three concurrent runs must use both workers.
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
    "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "21600",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
    "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
    "AIRFLOW__API__WORKERS": "1",
    "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
    "AIRFLOW__WORKERS__EXECUTION_API_RETRIES": "12",
    "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{HOSTNAME_MODULE}.hostname",
    "NO_COLOR": "1",
}


def compose_airflow_env() -> dict[str, str]:
    """The ``x-airflow-common`` environment as Compose would pass it (unset variables)."""
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    env = compose["x-airflow-common"]["environment"]
    return {name: _interpolate(str(value)) for name, value in env.items()}


def _interpolate(value: str) -> str:
    return re.sub(r"\$\{[A-Za-z_]+:-([^}]*)\}", r"\1", value)


def localize(env: Mapping[str, str], addresses: Mapping[str, str]) -> dict[str, str]:
    """Replace each compose ``service:port`` (also URL-encoded) by its local address."""
    local = {}
    for name, value in env.items():
        for service, address in addresses.items():
            value = value.replace(service, address)
            value = value.replace(service.replace(":", "%3A"), address.replace(":", "%3A"))
        local[name] = value
    return local


def _write_hostname_module(directory: Path) -> None:
    (directory / f"{HOSTNAME_MODULE}.py").write_text(
        "import os\nimport socket\n\n\n"
        "def hostname() -> str:\n"
        f"    return os.environ.get({HOSTNAME_ENV!r}) or socket.getfqdn()\n"
    )


class CeleryAirflow(AirflowStandalone):
    """The compose topology as local processes, each in its own process group.

    Reuses :class:`AirflowStandalone`'s CLI, REST and polling helpers; ``start``/``stop``
    run the separate components instead of ``airflow standalone``.
    """

    health_parts = ("metadatabase", "scheduler", "dag_processor")  # no triggerer here

    def __init__(self, home: Path, sandbox_url: str) -> None:
        self.postgres = Postgres()
        self.redis = Redis()
        api_port = free_port()
        sandbox = sandbox_url.removeprefix("http://")
        compose = localize(
            compose_airflow_env(),
            {
                "@postgres/": f"@127.0.0.1:{self.postgres.port}/",
                "redis:6379": f"127.0.0.1:{self.redis.port}",
                "airflow-apiserver:8080": f"127.0.0.1:{api_port}",
                "copernica-sandbox:8900": sandbox,
            },
        )
        compose.pop("_PIP_ADDITIONAL_REQUIREMENTS")  # read by the image's entrypoint only
        unresolved = {k: v for k, v in compose.items() if re.search(COMPOSE_HOSTS, v)}
        assert not unresolved, f"compose service names left in the environment: {unresolved}"
        self.lineage_dir = home / "openlineage"
        self.lineage_dir.mkdir(parents=True, exist_ok=True)
        _write_hostname_module(home)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW"))}
        env |= compose | LOCAL_OVERRIDES
        env |= {
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "PYTHONPATH": str(home),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),  # compose mounts ./dags
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
            # OpenLineage events (apache-airflow-providers-openlineage), one file per event.
            "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
                {"type": "file", "log_file_path": str(self.lineage_dir / "event")}
            ),
        }
        super().__init__(home, env, api_port)
        self.compose_env = compose
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    # -- processes -------------------------------------------------------------------------
    def migrate(self) -> None:
        self.cli("db", "migrate", timeout=600)

    def spawn(self, name: str, *args: str, hostname: str | None = None) -> None:
        """``airflow <args>`` as component ``name``, logging to ``<home>/<name>.log``."""
        env = self.env | {HOSTNAME_ENV: hostname or name}
        with (self.home / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                [str(BIN / "airflow"), *args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.home,
                start_new_session=True,
            )

    def start_worker(self, name: str) -> None:
        self.spawn(
            name,
            "celery",
            "worker",
            "--celery-hostname",
            f"{name}@%h",
            "--queues",
            "default",
            "--skip-serve-logs",  # task logs are read from the shared logs folder
            hostname=name,
        )
        self.wait_until(
            f"{name} to join the broker",
            lambda: f"{name}@" in self.log_of(name) and " ready." in self.log_of(name),
            timeout=180,
        )

    def start(self) -> None:
        self.postgres.start()
        self.redis.start()
        self.migrate()
        self.spawn("api-server", "api-server")
        self.spawn("scheduler", "scheduler")
        self.spawn("dag-processor", "dag-processor")
        for worker in WORKERS:
            self.start_worker(worker)

    def kill_worker(self, name: str) -> list[int]:
        """SIGKILL worker ``name`` whole (as a lost machine): its group and every descendant,
        including task processes in process groups of their own. Returns the pids killed."""
        process = self.processes.pop(name)
        self.processes[f"killed:{name}"] = process
        family = [psutil.Process(process.pid)]
        with contextlib.suppress(psutil.NoSuchProcess):
            family += family[0].children(recursive=True)
        for member in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                member.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        return [member.pid for member in family]

    def stop(self, grace: float = 20) -> None:
        for name in reversed(list(self.processes)):
            stop_process_group(self.processes.pop(name), grace=grace)
        self.redis.stop()
        self.postgres.stop()

    def log_of(self, name: str) -> str:
        with contextlib.suppress(OSError):
            return (self.home / f"{name}.log").read_text(errors="replace")
        return ""

    def log_tail(self, chars: int = 1500) -> str:
        return "\n".join(f"--- {name} ---\n{self.log_of(name)[-chars:]}" for name in self.processes)

    def wait_until(
        self, what: str, check: Callable[[], Any], timeout: float, interval: float = 1.0
    ) -> Any:
        def alive_and(check_result: Callable[[], Any] = check) -> Any:
            for name, process in self.processes.items():
                if process.poll() is not None and not name.startswith("killed:"):
                    raise RuntimeError(
                        f"{name} exited while waiting for {what}:\n{self.log_of(name)[-3000:]}"
                    )
            return check_result()

        return super().wait_until(what, alive_and, timeout, interval)

    def lineage_events(self, event_type: str = "COMPLETE") -> list[dict[str, Any]]:
        """The OpenLineage events of that type the components wrote so far."""
        events = [json.loads(p.read_text()) for p in sorted(self.lineage_dir.iterdir())]
        return [e for e in events if e.get("eventType") == event_type]

    def task_instance_try(self, dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
        """Every try of one task instance (hostname, state, try_number), oldest first."""
        tries = self.api("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/tries")[
            "task_instances"
        ]
        return sorted(tries, key=lambda t: t["try_number"])
