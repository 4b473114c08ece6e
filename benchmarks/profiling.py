"""cProfile of one operator run (no added latency): where the client's time goes.

cProfile sees the thread that runs ``execute``; work the engine does in a prefetch thread
shows up there as time waiting on a lock/queue (labelled "waiting for the next page").
Each function's own time (tottime) is put in a category by where it lives.
"""

from __future__ import annotations

import cProfile
import gc
import pstats
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, WORK_DIR
from benchmarks.extract_run import run_operator

# (category, substrings of "file:function"); first match wins.
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "waiting for the next page (prefetch thread / socket)",
        ("acquire' of '_thread", "method 'get' of '_queue", "threading.py", "queue.py"),
    ),
    ("JSON decoding", ("orjson.loads", "json/decoder.py", "json/__init__.py", "_json.")),
    ("JSON encoding", ("orjson.dumps", "json/encoder.py")),
    (
        "timestamp parsing/conversion",
        (
            "_strptime",
            "strptime",
            "zoneinfo",
            "astimezone",
            "isoformat",
            "fromisoformat",
            "pendulum",
            "replace' of 'datetime",
            "utcoffset",
            "strftime",
            "records.py:",  # only its timestamp helpers; see _TIMESTAMP_HELPERS
        ),
    ),
    (
        "row conversion (records.py, compiled row plan)",
        (
            "airflow_provider_copernica/engine/records.py",
            "<copernica-row-plan>",
            "method 'get' of 'dict'",
        ),
    ),
    ("writer (writers.py)", ("airflow_provider_copernica/output/writers.py",)),
    ("Parquet (pyarrow)", ("pyarrow",)),
    ("file I/O", ("method 'write' of", "fsspec", "upath", "_io.", "posix.")),
    (
        "HTTP client (requests/urllib3/socket)",
        ("requests/", "urllib3/", "http/client.py", "socket", "ssl", "selectors", "email/"),
    ),
    ("engine (extract.py)", ("airflow_provider_copernica/engine/extract.py",)),
    ("hook/retry", ("airflow_provider_copernica/hooks", "retry.py", "tenacity")),
)


@dataclass
class ProfileSummary:
    seconds: float
    rows: int
    categories: list[tuple[str, float]]
    top: list[tuple[str, float, int]]
    text_path: Path
    gc_seconds: float = 0.0  # the collector, inside whatever allocation triggered it
    gc_collections: int = 0


class CollectorClock:
    """Time spent in the cyclic garbage collector while installed (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = 0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.collections += 1

    def __enter__(self) -> CollectorClock:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


def _label(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    if filename == "~":
        return name
    short = filename.split("site-packages/")[-1].split(f"{REPO}/")[-1]
    return f"{short}:{line}({name})"


_TIMESTAMP_HELPERS = ("(convert)", "(__call__)", "(_utc_hour)", "(naive_to_utc)", "(slow)")


def categorize(label: str) -> str:
    for category, needles in CATEGORIES:
        for needle in needles:
            if needle == "records.py:":
                if needle in label and label.endswith(_TIMESTAMP_HELPERS):
                    return category
            elif needle in label:
                return category
    return "other"


def profile_operator(
    dataset: str,
    options: dict[str, Any],
    file_format: str,
    window: tuple[datetime, datetime],
    top_n: int = 15,
) -> ProfileSummary:
    out = WORK_DIR / "out" / f"profile.{file_format}"
    out.parent.mkdir(parents=True, exist_ok=True)
    profiler = cProfile.Profile()
    with CollectorClock() as collector:
        profiler.enable()
        run = run_operator(dataset, options, file_format, out, window)
        profiler.disable()
    stats = pstats.Stats(profiler)
    raw_stats: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw_stats.values())
    by_category: dict[str, float] = {}
    rows: list[tuple[str, float, int]] = []
    for func, (_cc, calls, tottime, _ct, _callers) in raw_stats.items():
        label = _label(func)
        category = categorize(label)
        by_category[category] = by_category.get(category, 0.0) + tottime
        rows.append((label, tottime, calls))
    rows.sort(key=lambda r: r[1], reverse=True)
    text_path = WORK_DIR / f"profile_{dataset}_{file_format}.txt"
    with text_path.open("w") as handle:
        stats.stream = handle  # type: ignore[attr-defined]
        stats.sort_stats("tottime").print_stats(40)
        stats.sort_stats("cumulative").print_stats(40)
    categories = sorted(by_category.items(), key=lambda kv: kv[1], reverse=True)
    del total
    return ProfileSummary(
        run.seconds,
        run.result["rows"],
        categories,
        rows[:top_n],
        text_path,
        collector.seconds,
        collector.collections,
    )
