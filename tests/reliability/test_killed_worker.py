"""Killed worker: SIGKILL an extraction (a child process running the real operator) at random
points while it pages and while it writes its final file. The final path must always be absent
or the previous complete file; a rerun gives the exact result and cleans the leftovers."""

from __future__ import annotations

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

CHILD = """
import json, sys
import pendulum
from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator

args = json.loads(sys.argv[1])
op = CopernicaToStorageOperator(
    task_id="killed_worker", dataset="profiles", dataset_options=args["options"],
    output_uri=args["uri"],
)
start, end = pendulum.parse(args["start"]), pendulum.parse(args["end"])
context = {"data_interval_start": start, "data_interval_end": end, "run_id": "killed",
           "logical_date": start, "params": {}}
op.render_template_fields(context)
print(json.dumps(op.execute(context)))
"""


def _wait(predicate: Callable[[], bool], proc: subprocess.Popen, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        if proc.poll() is not None:
            return
        if time.monotonic() > deadline:
            raise AssertionError("the child extraction made no progress")
        time.sleep(0.002)


@pytest.mark.timeout(240)
def test_sigkill_never_leaves_a_partial_file(
    sandbox: Any, connect: Callable[..., str], tmp_path: Path
) -> None:
    connect(page_size=PAGE_SIZE)
    start, end, truth = find_window(sandbox, "profiles", OPTIONS, 150, 400, days=30)
    truth = sorted(int(i) for i in truth)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    out_dir = tmp_path / "out"
    target = out_dir / "profiles.jsonl"
    args = {
        "options": OPTIONS,
        "uri": f"file://{target}",
        "start": start.isoformat(),
        "end": end.isoformat(),
    }

    def spawn() -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, str(script), json.dumps(args)],
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    sandbox.faults.set(f"latency:{LATENCY}")

    def kill(rng: random.Random, stage: str, full_calls: int | None) -> int | None:
        clear_log(sandbox)
        proc = spawn()
        if stage == "paging" or full_calls is None:
            _wait(lambda: len(data_requests(sandbox)) >= 2, proc)
            pages = full_calls or 8
            time.sleep(rng.uniform(0, 0.8 * pages * LATENCY))
        else:
            _wait(lambda: len(data_requests(sandbox)) >= full_calls, proc)
            time.sleep(rng.uniform(0, LATENCY + 0.02))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        return proc.returncode

    # A kill before there ever was a final file: the final path stays absent.
    code = kill(random.Random(0), "paging", None)
    assert code == -signal.SIGKILL, "the child finished before it was killed"
    assert not target.exists(), "a killed first run left a (partial) final file"

    # A complete run: the previous complete file.
    clear_log(sandbox)
    proc = spawn()
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr.decode()[-2000:]
    full_calls = len(data_requests(sandbox))
    previous = target.read_bytes()
    assert sorted(read_ids(target)) == truth

    landed = 0
    for seed, stage in KILLS:
        code = kill(random.Random(seed), stage, full_calls)
        landed += code == -signal.SIGKILL
        # Killed or (if it won the race) finished: either way the complete file, same bytes.
        assert target.read_bytes() == previous, f"seed {seed} ({stage}): final file changed"
    assert landed >= 3, "too few kills landed before the child finished"

    # Leftovers of the killed workers are stale by now: age them past any threshold.
    leftovers = [name for name in directory_listing(out_dir) if name != target.name]
    old = time.time() - 3 * 24 * 3600
    for name in leftovers:
        os.utime(out_dir / name, (old, old))

    sandbox.faults.reset()
    clear_log(sandbox)
    proc = spawn()
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr.decode()[-2000:]
    assert json.loads(stdout.decode().strip().splitlines()[-1])["rows"] == len(truth)
    assert sorted(read_ids(target)) == truth
    assert directory_listing(out_dir) == [target.name], (
        f"stray temporary files after the rerun (killed runs left {leftovers})"
    )
