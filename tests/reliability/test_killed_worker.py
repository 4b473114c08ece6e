"""Killed worker: SIGKILL an extraction (a child process running the real operator) at random
points while it pages and while it writes its final file. The final path must always be absent
or the previous complete file; a rerun gives the exact result and cleans the leftovers."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import clear_log, data_requests, directory_listing, find_window, read_ids

OPTIONS = {"database_id": 7616}
LATENCY = 0.03  # seconds added to every sandbox request, so paging lasts long enough to hit
PAGE_SIZE = 20
# (seed, where the kill lands): seeds pick the exact moment inside that stage
KILLS = [(1, "paging"), (2, "paging"), (3, "final write"), (4, "paging"), (5, "final write")]

# A small worker pool: one process imports Airflow and the provider once (seconds on a busy
# 2-core machine), then forks one worker per extraction. Each worker is a separate OS process
# running the real operator; the test SIGKILLs it by pid.
POOL = """
import json, os, sys, traceback
import pendulum
from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator
import airflow_provider_copernica.engine.extract, airflow_provider_copernica.output.writers
import airflow_provider_copernica.hooks.copernica

def extract(args):
    op = CopernicaToStorageOperator(
        task_id="killed_worker", dataset="profiles", dataset_options=args["options"],
        output_uri=args["uri"],
    )
    start, end = pendulum.parse(args["start"]), pendulum.parse(args["end"])
    context = {"data_interval_start": start, "data_interval_end": end, "run_id": "killed",
               "logical_date": start, "params": {}}
    op.render_template_fields(context)
    with open(args["result"], "w") as out:
        json.dump(op.execute(context), out)

print("@@ ready", flush=True)
for line in sys.stdin:
    args = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            extract(args)
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stderr.flush()
        os._exit(code)
    print("@@", pid, flush=True)
    _, status = os.waitpid(pid, 0)
    print("@@", os.waitstatus_to_exitcode(status), flush=True)
"""


class Pool:
    """The forking worker pool (a child process of the test)."""

    def __init__(self, script: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(script)],
            env=dict(os.environ),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._line() == "ready"

    def _line(self) -> str:
        """The next protocol line (``@@ ...``); Airflow's own log lines are skipped."""
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError(f"the worker pool died (exit {self.proc.wait()})")
            if line.startswith("@@ "):
                return line[3:].strip()

    def start(self, args: dict[str, Any]) -> int:
        """Fork a worker running one extraction; returns its pid."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(args) + "\n")
        self.proc.stdin.flush()
        return int(self._line())

    def result(self) -> int:
        """The worker's exit code (negative: killed by that signal)."""
        return int(self._line())

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _wait_for(predicate: Callable[[], bool], limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("the worker made no progress")
        time.sleep(0.002)


@pytest.mark.timeout(240)
def test_sigkill_never_leaves_a_partial_file(
    sandbox: Any, connect: Callable[..., str], tmp_path: Path
) -> None:
    connect(page_size=PAGE_SIZE)
    start, end, truth = find_window(sandbox, "profiles", OPTIONS, 150, 400, days=30)
    truth = sorted(int(i) for i in truth)
    script = tmp_path / "pool.py"
    script.write_text(POOL)
    out_dir = tmp_path / "out"
    target = out_dir / "profiles.jsonl"
    result = tmp_path / "result.json"
    args = {
        "options": OPTIONS,
        "uri": f"file://{target}",
        "start": start.isoformat(),
        "end": end.isoformat(),
        "result": str(result),
    }
    pool = Pool(script)
    try:
        sandbox.faults.set(f"latency:{LATENCY}")

        def kill(rng: random.Random, stage: str, full_calls: int | None) -> int:
            clear_log(sandbox)
            pid = pool.start(args)
            if stage == "paging" or full_calls is None:
                _wait_for(lambda: len(data_requests(sandbox)) >= 2)
                pages = full_calls or 8
                time.sleep(rng.uniform(0, 0.8 * pages * LATENCY))
            else:  # the last page was requested: the worker is writing and committing
                _wait_for(lambda: len(data_requests(sandbox)) >= full_calls)
                time.sleep(rng.uniform(0, LATENCY + 0.01))
            with contextlib.suppress(ProcessLookupError):  # it may have finished already
                os.kill(pid, signal.SIGKILL)
            return pool.result()

        # A kill before there ever was a final file: the final path stays absent.
        assert kill(random.Random(0), "paging", None) == -signal.SIGKILL
        assert not target.exists(), "a killed first run left a (partial) final file"

        # A complete run: the previous complete file.
        clear_log(sandbox)
        pool.start(args)
        assert pool.result() == 0
        full_calls = len(data_requests(sandbox))
        previous = target.read_bytes()
        assert sorted(read_ids(target)) == truth

        landed = 0
        for seed, stage in KILLS:
            code = kill(random.Random(seed), stage, full_calls)
            landed += code == -signal.SIGKILL
            print(f"seed {seed} ({stage}): exit {code}, dir {directory_listing(out_dir)}")
            # Killed, or finished first: either way the complete file, byte for byte.
            assert target.read_bytes() == previous, f"seed {seed} ({stage}): final file changed"
        assert landed >= 3, "too few kills landed before the worker finished"

        # Leftovers of the killed workers are stale by now: age them past any threshold.
        leftovers = [name for name in directory_listing(out_dir) if name != target.name]
        old = time.time() - 3 * 24 * 3600
        for name in leftovers:
            os.utime(out_dir / name, (old, old))

        sandbox.faults.reset()
        result.unlink(missing_ok=True)
        pool.start(args)
        assert pool.result() == 0
        assert json.loads(result.read_text())["rows"] == len(truth)
        assert sorted(read_ids(target)) == truth
        assert directory_listing(out_dir) == [target.name], (
            f"stray temporary files after the rerun (killed runs left {leftovers})"
        )
    finally:
        pool.close()
