"""Debian's PostgreSQL and Redis as throw-away servers: 127.0.0.1, free ports, temp dirs.

Each server runs in its own process group and is stopped (then its directory removed) by
``stop()``, which the fixtures call on every exit path and ``atexit`` calls as a last resort.
PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` system user
(``runuser``) in a directory owned by it.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psutil
from e2e.harness import free_port


def postgres_bin_dir() -> Path | None:
    """Debian puts PostgreSQL's server binaries in /usr/lib/postgresql/<major>/bin."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_major)
    return Path(found[-1]).parent if found else None


def _major(path: str) -> int:
    return int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0


def missing_servers() -> list[str]:
    """Which of the two servers this machine lacks (``.ci/run`` installs both)."""
    missing = [] if postgres_bin_dir() else ["postgresql (/usr/lib/postgresql/*/bin)"]
    return missing + ([] if shutil.which("redis-server") else ["redis-server"])


class _Server:
    """A server process in its own process group, with a log file in its temp dir."""

    name = "server"

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=f"copernica-{self.name}-"))
        self.port = free_port()
        self.log_path = self.dir / f"{self.name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        atexit.register(self.stop)

    def _spawn(self, command: list[str]) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def log_tail(self, chars: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""

    def stop(self, stop_signal: int = signal.SIGTERM) -> None:
        if self.process is not None:
            stop_process_group(self.process, stop_signal)
            self.process = None
        shutil.rmtree(self.dir, ignore_errors=True)


def stop_process_group(
    process: subprocess.Popen[bytes], stop_signal: int = signal.SIGTERM, grace: float = 15
) -> None:
    """Signal ``process``'s group, wait, then SIGKILL the group and any descendant left."""
    try:
        family = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, stop_signal)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    _, alive = psutil.wait_procs(family, timeout=5)
    for leftover in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            leftover.kill()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


class Postgres(_Server):
    """``initdb`` + ``postgres`` on 127.0.0.1:<free port>, user and database ``airflow``."""

    name = "postgres"
    user = "airflow"
    database = "airflow"

    def _as_owner(self, command: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command

    def start(self, timeout: float = 60) -> Postgres:
        bin_dir = postgres_bin_dir()
        assert bin_dir is not None, "PostgreSQL is not installed (see .ci/run)"
        data = self.dir / "data"
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        subprocess.run(
            self._as_owner(
                [str(bin_dir / "initdb"), "-D", str(data), "-U", self.user]
                + ["--auth=trust", "--encoding=UTF8", "--no-sync"]
            ),
            check=True,
            capture_output=True,
        )
        # Durability buys nothing in a throw-away database; these keep a 2-core machine fast.
        self._spawn(
            self._as_owner(
                [str(bin_dir / "postgres"), "-D", str(data), "-p", str(self.port)]
                + ["-h", "127.0.0.1", "-k", str(self.dir), "-c", "fsync=off"]
                + ["-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
                + ["-c", "max_connections=200"]
            )
        )
        self._wait(bin_dir, timeout)
        subprocess.run(
            [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port)]
            + ["-U", self.user, self.database],
            check=True,
            capture_output=True,
        )
        return self

    def _wait(self, bin_dir: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, self.log_tail()
            ready = subprocess.run(
                [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                capture_output=True,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.3)
        raise AssertionError(f"PostgreSQL did not start in {timeout}s:\n{self.log_tail()}")

    def stop(self, stop_signal: int = signal.SIGINT) -> None:  # SIGINT: fast shutdown
        super().stop(stop_signal)

    def query(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        """Rows of one read-only query on the Airflow database."""
        import psycopg2

        with (
            contextlib.closing(
                psycopg2.connect(
                    host="127.0.0.1", port=self.port, user=self.user, dbname=self.database
                )
            ) as db,
            db.cursor() as cursor,
        ):
            cursor.execute(sql, params)
            return list(cursor.fetchall())


class Redis(_Server):
    """``redis-server`` on 127.0.0.1:<free port>, no persistence."""

    name = "redis"

    def start(self, timeout: float = 30) -> Redis:
        self._spawn(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port)]
            + ["--bind", "127.0.0.1", "--dir", str(self.dir), "--save", "", "--appendonly", "no"]
        )
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, self.log_tail()
            with contextlib.suppress(redis.RedisError):
                if client.ping():
                    return self
            time.sleep(0.2)
        raise AssertionError(f"redis-server did not start in {timeout}s:\n{self.log_tail()}")
