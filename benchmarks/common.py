"""Shared benchmark plumbing: isolated Airflow home, the sandbox process, machine facts."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parent.parent
WORK_DIR = REPO / ".bench"
CONN_ID = "copernica_default"
T = TypeVar("T")


def setup_environment() -> Path:
    """Point Airflow at a throw-away home under .bench/ before anything imports airflow."""
    WORK_DIR.mkdir(exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="airflow-home-", dir=WORK_DIR))
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    return home


class SandboxProcess:
    """A sandbox server in a child process (see :mod:`benchmarks.sandbox_process`)."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self._proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.extra: dict[str, Any] = {}
        self.startup_s = 0.0
        self.pid = 0

    def start(self) -> SandboxProcess:
        """Spawn the process (it seeds its data in the background); ``__enter__`` waits."""
        if self._proc is None:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.sandbox_process", json.dumps(self.options)],
                cwd=REPO,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=os.environ.copy(),
            )
            self.pid = self._proc.pid
        return self

    def __enter__(self) -> SandboxProcess:
        self.start()
        if not self.url:
            hello = self._read()
            self.url, self.extra = hello["url"], hello["extra"]
            self.startup_s = hello["startup_s"]
        return self

    def __exit__(self, *exc: object) -> None:
        proc = self._proc
        if proc is None:
            return
        try:
            if proc.poll() is None:
                self.command("stop")
                proc.wait(timeout=30)
        except Exception:
            proc.kill()
            proc.wait()
        self._proc = None

    def _read(self) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"sandbox process exited (options {self.options})")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise RuntimeError(f"sandbox: {reply.get('error')}")
        return reply

    def command(self, cmd: str, **args: Any) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
        self._proc.stdin.flush()
        return self._read()

    def fault(self, spec: str) -> None:
        self.command("fault", spec=spec)

    def reset(self) -> None:
        self.command("reset")

    def stats(self) -> dict[str, Any]:
        return self.command("stats")["stats"]

    def peak_in_flight(self) -> int:
        """The most data requests served at once since the last reset."""
        return int(self.command("inflight")["peak"])

    def request_count(self) -> int:
        return self.command("requests", since=1 << 62)["count"]

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        return self.command("requests", since=since)["requests"]

    def count(self, dataset: str, start: datetime, end: datetime, **options: Any) -> int:
        """Ground truth: how many records a correct extraction of [start, end) returns."""
        return self.command(
            "count", dataset=dataset, start=start.isoformat(), end=end.isoformat(), options=options
        )["count"]

    def facts(self) -> dict[str, Any]:
        return self.command("facts")["facts"]

    def connection_uri_env(self, token: str, **extra: Any) -> str:
        """Value of AIRFLOW_CONN_<ID> (JSON form) pointing at this sandbox."""
        return json.dumps(
            {
                "conn_type": "copernica",
                "host": self.url,
                "password": token,
                "extra": {**self.extra, **extra},
            }
        )


@contextmanager
def connection_env(sandbox: SandboxProcess, token: str, **extra: Any) -> Iterator[None]:
    """Set AIRFLOW_CONN_COPERNICA_DEFAULT to the sandbox for the duration."""
    key = f"AIRFLOW_CONN_{CONN_ID.upper()}"
    old = os.environ.get(key)
    os.environ[key] = sandbox.connection_uri_env(token, **extra)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def median(values: list[float]) -> float:
    return statistics.median(values)


@dataclass
class Figure:
    """One line of the results table."""

    section: str
    name: str
    value: str
    target: str = ""
    met: bool | None = None
    note: str = ""
    load: float = field(default_factory=lambda: os.getloadavg()[0])  # 1 min, when measured

    def __post_init__(self) -> None:
        if self.target and self.met is None:
            raise ValueError(
                f"{self.section}, {self.name}: a target ({self.target}) needs a verdict"
            )


@dataclass
class Report:
    """Everything one run measured, rendered to the console and RESULTS.md."""

    figures: list[Figure] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)

    def add(self, *args: Any, **kwargs: Any) -> Figure:
        figure = Figure(*args, **kwargs)
        self.figures.append(figure)
        print(f"  {figure.section:<12} {figure.name:<58} {figure.value}", flush=True)
        return figure


def _read_first(path: str, prefix: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def machine_facts() -> dict[str, str]:
    import airflow_provider_copernica

    try:
        from importlib.metadata import version

        airflow_version = version("apache-airflow")
    except Exception:
        airflow_version = "unknown"
    mem_kb = _read_first("/proc/meminfo", "MemTotal")
    commit, tree = code_state()
    load = os.getloadavg()
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "cpu": f"{_read_first('/proc/cpuinfo', 'model name')}, {os.cpu_count()} cores",
        "memory": f"{int(mem_kb.split()[0]) // 1024} MiB" if mem_kb != "unknown" else mem_kb,
        "os": platform.platform(),
        "python": platform.python_version(),
        "apache-airflow": airflow_version,
        "provider": airflow_provider_copernica.__version__,
        "code commit": commit,
        "work tree": tree,
        "load average at start": f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
    }


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout


def code_state() -> tuple[str, str]:
    """The code a run measures: ``("<40-hex commit> <subject>", "clean" | "dirty: ...")``.
    The tree is clean when ``git status --porcelain`` is empty (.bench/ is ignored)."""
    commit = _git("log", "-1", "--format=%H %s").strip()[:120] or "unknown"
    changed = _git("status", "--porcelain").splitlines()
    if not changed:
        return commit, "clean"
    names = ", ".join(line[3:] for line in changed[:5]) + (", ..." if len(changed) > 5 else "")
    return commit, f"dirty: {len(changed)} changed file(s) not in the commit ({names})"
