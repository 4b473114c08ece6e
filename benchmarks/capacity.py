"""Sandbox capacity: pages per second it serves to 1, 2 and 4 concurrent raw-loop clients.

If more clients get more pages per second in total, a single raw loop is not limited by the
sandbox; if the total stays flat, the sandbox (its CPU) is the ceiling every figure shares.
"""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from benchmarks.common import Report, SandboxProcess
from benchmarks.raw import run_raw


def _client(
    args: tuple[str, str, list[tuple[str, str]], str, str, str],
) -> tuple[float, float, int]:
    url, path, params, auth_url, token, paging = args
    start = time.time()
    result = run_raw(url, path, params, auth_url=auth_url, access_token=token, paging=paging)
    return start, time.time(), result.pages


def measure(
    sandbox: SandboxProcess,
    path: str,
    params: list[tuple[str, str]],
    token: str,
    paging: str = "keyset",
    clients: tuple[int, ...] = (1, 2, 4),
) -> dict[int, float]:
    auth_url = sandbox.extra.get("auth_url", f"{sandbox.url}/authenticate")
    rates: dict[int, float] = {}
    with ProcessPoolExecutor(max_workers=max(clients)) as pool:
        list(pool.map(time.sleep, [0] * max(clients)))  # start the workers before timing
        for n in clients:
            job = (sandbox.url, path, params, auth_url, token, paging)
            runs = list(pool.map(_client, [job] * n))
            wall = max(r[1] for r in runs) - min(r[0] for r in runs)
            rates[n] = sum(r[2] for r in runs) / wall
    return rates


def report_rates(report: Report, rates: dict[int, float], page_size: int, what: str) -> None:
    for n, pages_per_s in rates.items():
        report.add(
            "capacity",
            f"sandbox, {n} concurrent raw client(s), {what}",
            f"{pages_per_s:,.1f} pages/s ({pages_per_s * page_size:,.0f} rec/s)",
        )


def summary(rates: dict[int, float]) -> dict[str, Any]:
    best = max(rates.values())
    return {"single": rates[min(rates)], "best": best, "headroom": best / rates[min(rates)]}
