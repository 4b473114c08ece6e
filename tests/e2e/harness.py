"""A real Airflow (``airflow standalone``) in a temporary AIRFLOW_HOME, driven like a user would.

``airflow standalone`` runs the scheduler (LocalExecutor), dag-processor, triggerer and
api-server as child processes. Everything is started in its own process group and stopped
by :meth:`AirflowStandalone.stop`, which also kills any straggling descendant.
Commands go through the ``airflow`` CLI; polling uses the REST API (much cheaper than a CLI
process per poll on two cores).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import psutil
import requests

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "dags"
BIN = Path(sys.executable).parent
TERMINAL_RUN_STATES = ("success", "failed")


SCHEDULER_CRASH = b"Exception when executing SchedulerJob._run_scheduler_loop"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def airflow_env(
    home: Path, api_port: int, overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Environment for every Airflow process: isolated home, SQLite, LocalExecutor, fast loops."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW"))}
    env.update(
        {
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",  # standalone runs `airflow ...`
            "AIRFLOW_HOME": str(home),
            # Four processes write to one SQLite file: wait for the lock instead of failing.
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db?timeout=60",
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            # On a busy 2-core machine the api-server can take more than the default 5 s.
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
            "AIRFLOW__WORKERS__EXECUTION_API_RETRIES": "12",
            "NO_COLOR": "1",
        }
    )
    env.update(overrides or {})
    return env


class AirflowStandalone:
    """``airflow standalone`` in ``home`` with its own process group; see the module docstring."""

    health_parts: tuple[str, ...] = ("scheduler", "triggerer", "dag_processor")  # wait_ready

    def __init__(self, home: Path, env: Mapping[str, str], api_port: int) -> None:
        self.home = home
        self.env = dict(env)
        self.api_port = api_port
        self.base_url = f"http://127.0.0.1:{api_port}"
        self.log_path = home / "standalone.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._scheduler: subprocess.Popen[bytes] | None = None  # one keep_scheduler started
        self._log_read = 0  # keep_scheduler: how far the log was read, crashes, restarts
        self._crashes = self._restarts = 0
        self._token: str | None = None
        self._session = requests.Session()

    # -- processes -------------------------------------------------------------------------
    def cli(
        self, *args: str, timeout: float = 180, check: bool = True, attempts: int = 4
    ) -> subprocess.CompletedProcess[str]:
        """Run ``airflow <args>`` against this instance; raises with its output on failure.

        SQLite gives up at once ("database is locked") when two processes both try to turn a
        read into a write; that is a property of SQLite, not of the command, so it is retried.
        A backfill that failed half way is first let to finish, as only one may be active.
        """
        for attempt in range(1, attempts + 1):
            result = subprocess.run(
                [str(BIN / "airflow"), *args],
                env=self.env,
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=self.home,
            )
            if result.returncode == 0 or "database is locked" not in result.stderr:
                break
            if attempt < attempts and args[:2] == ("backfill", "create"):
                self.wait_backfill_done(args[args.index("--dag-id") + 1])
            time.sleep(2)
        if check and result.returncode != 0:
            raise AssertionError(
                f"airflow {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}"
            )
        return result

    def migrate(self) -> None:
        """``airflow db migrate``, then WAL journaling so readers never block the writer."""
        self.cli("db", "migrate", timeout=600)
        with sqlite3.connect(self.home / "airflow.db") as db:
            db.execute("PRAGMA journal_mode=WAL")

    def start(self) -> None:
        self._log_read = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._crashes = self._restarts = 0
        self.home.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(BIN / "airflow"), "standalone"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.home,
            start_new_session=True,  # own process group: stop() kills it as a whole
        )
        log.close()

    def keep_scheduler(self) -> None:
        """Start the scheduler again if it crashed inside ``airflow standalone`` (which does
        not restart its components). Airflow 3.3.2 on SQLite: when ``backfill create`` hits
        "database is locked" it deletes the runs it had created, and a scheduler that was
        scheduling one of them leaves its loop with ObjectDeletedError (its process may
        linger). Each crash line in the log gets one new scheduler; ``stop()`` ends it."""
        if self.process is None or type(self) is not AirflowStandalone:
            return
        with self.log_path.open("rb") as log:
            log.seek(self._log_read)
            self._crashes += log.read().count(SCHEDULER_CRASH)
            self._log_read = log.tell()
        if self._crashes <= self._restarts:
            return
        self._restarts = self._crashes
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.process.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    if "scheduler" in " ".join(child.cmdline()):
                        child.kill()
        if self._scheduler is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._scheduler.pid, signal.SIGKILL)
        with self.log_path.open("ab") as log:
            log.write(b"harness | the scheduler crashed: starting it again\n")
            self._scheduler = subprocess.Popen(
                [str(BIN / "airflow"), "scheduler"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.home,
                start_new_session=True,
            )

    def stop(self, grace: float = 20) -> None:
        if getattr(self, "_scheduler", None) is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._scheduler.pid, signal.SIGKILL)
            self._scheduler.wait(timeout=10)
            self._scheduler = None
        if self.process is None:
            return
        try:
            family = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            family = []
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=grace)
        _, alive = psutil.wait_procs(family, timeout=5)
        for leftover in alive:  # e.g. a task process that started a session of its own
            with contextlib.suppress(psutil.NoSuchProcess):
                leftover.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    # -- REST API --------------------------------------------------------------------------
    def _password(self) -> str:
        path = self.home / "simple_auth_manager_passwords.json.generated"
        return json.loads(path.read_text())["admin"]

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call ``/api/v2/<path>`` as the admin user; returns the decoded JSON."""
        if self._token is None:
            reply = self._session.post(
                f"{self.base_url}/auth/token",
                json={"username": "admin", "password": self._password()},
                timeout=30,
            )
            reply.raise_for_status()
            self._token = reply.json()["access_token"]
        reply = self._session.request(
            method,
            f"{self.base_url}/api/v2/{path.lstrip('/')}",
            headers={"Authorization": f"Bearer {self._token}"},
            timeout=30,
            **kwargs,
        )
        if reply.status_code >= 400:
            raise AssertionError(f"{method} {path}: {reply.status_code} {reply.text[:500]}")
        return reply.json() if reply.content else None

    def wait_until(
        self, what: str, check: Callable[[], Any], timeout: float, interval: float = 1.0
    ) -> Any:
        """Poll ``check`` until it returns something truthy; fail with the Airflow log tail."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(
                    f"airflow standalone exited while waiting for {what}:\n{self.log_tail()}"
                )
            self.keep_scheduler()
            try:
                result = check()
            except (
                requests.RequestException,
                AssertionError,
                OSError,
                KeyError,
                ValueError,
            ) as exc:
                last_error, result = exc, None
            if result:
                return result
            time.sleep(interval)
        raise AssertionError(
            f"timed out after {timeout:.0f}s waiting for {what} (last error: {last_error!r})\n"
            f"{self.log_tail()}"
        )

    def wait_ready(self, dag_ids: list[str], timeout: float = 480) -> None:
        """Until the API answers, scheduler/triggerer/dag-processor are healthy, DAGs parsed."""

        def healthy() -> bool:
            health = self.api("GET", "monitor/health")
            return all(health.get(p, {}).get("status") == "healthy" for p in self.health_parts)

        self.wait_until("a healthy Airflow", healthy, timeout)

        def parsed() -> bool:
            dags = self.api("GET", "dags", params={"limit": 100})["dags"]
            return set(dag_ids) <= {d["dag_id"] for d in dags}

        self.wait_until(f"DAGs {dag_ids} to be parsed", parsed, timeout)

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        return self.api("GET", f"dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return self.api("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        content = self.api(
            "GET",
            f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
            params={"full_content": "true"},
        )["content"]
        return "\n".join(
            str(item.get("event", "")) if isinstance(item, dict) else str(item) for item in content
        )

    def wait_runs_done(
        self,
        dag_id: str,
        expected: int,
        timeout: float = 180,
        select: Callable[[dict[str, Any]], bool] = lambda run: True,
    ) -> list[dict[str, Any]]:
        """Until ``expected`` selected runs exist and all are finished; returns them."""

        def done() -> list[dict[str, Any]] | None:
            runs = [r for r in self.dag_runs(dag_id) if select(r)]
            if len(runs) >= expected and all(r["state"] in TERMINAL_RUN_STATES for r in runs):
                return runs
            return None

        return self.wait_until(f"{expected} finished run(s) of {dag_id}", done, timeout)

    def wait_backfill_done(self, dag_id: str, timeout: float = 240) -> dict[str, Any]:
        """Until the DAG's latest backfill is completed (or it has none); returns it."""

        def done() -> dict[str, Any] | None:
            backfills = self.api("GET", "backfills", params={"dag_id": dag_id})["backfills"]
            latest = max(backfills, key=lambda b: b["id"], default=None)
            if latest is None:
                return {"dag_id": dag_id, "completed_at": None}
            return latest if latest.get("completed_at") else None

        return self.wait_until(f"the backfill of {dag_id} to complete", done, timeout)
