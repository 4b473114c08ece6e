"""Run one sandbox in its own process, driven over stdin/stdout (one JSON object per line).

The benchmark keeps the server's CPU out of the client's process (and out of its profile),
and controls it without sending extra HTTP requests that would show up in its counters.

Commands (one per line on stdin): ``{"cmd": "fault", "spec": "latency:0.05"}``,
``{"cmd": "reset"}``, ``{"cmd": "stats"}``, ``{"cmd": "ids", ...}`` (the ids ``count`` counts),
``{"cmd": "inflight"}`` (the most data requests
served at once since the last reset), ``{"cmd": "stop"}``. Every command gets one reply
line: ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        if isinstance(value, dict):
            return {str(k): _jsonable(v) for k, v in value.items()}
        if isinstance(value, (list, tuple, set)):
            return [_jsonable(v) for v in value]
        if hasattr(value, "__dict__"):
            return _jsonable(vars(value))
        return repr(value)


def _stats(server: Any) -> Any:
    return _jsonable(server.stats.as_dict())


def _facts(server: Any) -> dict[str, Any]:
    """Ground-truth counts for the benchmark window (the whole seeded span)."""
    from benchmarks.extract_run import WINDOW

    data = server.data
    database_id = 7616  # the sandbox's main database (all profiles but a few percent)
    facts: dict[str, Any] = {"database_id": database_id}
    facts["profiles_total"] = len(data.expected_ids("profiles", *WINDOW, database_id=database_id))
    facts["span"] = [data.span_start, data.span_end]  # UTC epoch seconds
    for event in ("clicks", "deliveries"):
        facts[f"{event}_total"] = len(data.expected_ids(event, *WINDOW, product="draganddrop"))
    return facts


def _requests(server: Any, since: int) -> dict[str, Any]:
    """Method, path and query of the logged requests from index ``since`` (no headers)."""
    log = list(server.requests)
    entries = []
    for entry in log[since:]:
        get = entry.get if isinstance(entry, dict) else lambda k, e=entry: getattr(e, k, None)
        entries.append({"method": get("method"), "path": get("path"), "query": get("query")})
    return {"count": len(log), "requests": _jsonable(entries)}


class InFlight:
    """Counts the data requests the sandbox is serving at once (wraps ``data_request``)."""

    def __init__(self, app: Any) -> None:
        self._lock = threading.Lock()
        self.now = self.peak = 0
        serve = app.data_request

        def counted(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.now += 1
                self.peak = max(self.peak, self.now)
            try:
                return serve(*args, **kwargs)
            finally:
                with self._lock:
                    self.now -= 1

        app.data_request = counted

    def reset(self) -> None:
        with self._lock:
            self.peak = self.now


def _reply(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def main() -> int:
    from airflow_provider_copernica.sandbox import SandboxServer

    options = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    started = time.perf_counter()
    server = SandboxServer(port=0, **options)
    server.start()
    inflight = InFlight(server.app)
    _reply(
        {
            "ok": True,
            "url": server.url,
            "extra": server.connection_extra(),
            "startup_s": time.perf_counter() - started,
        }
    )
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            command = json.loads(line)
            try:
                name = command["cmd"]
                if name == "fault":
                    server.faults.set(command["spec"])
                    _reply({"ok": True})
                elif name == "reset":  # faults off, counters and request log cleared
                    server.reset()
                    inflight.reset()
                    _reply({"ok": True})
                elif name == "stats":
                    _reply({"ok": True, "stats": _stats(server)})
                elif name == "inflight":
                    _reply({"ok": True, "peak": inflight.peak})
                elif name == "facts":
                    _reply({"ok": True, "facts": _facts(server)})
                elif name == "count":  # ground truth: records of a dataset in a window
                    ids = server.data.expected_ids(
                        command["dataset"], command["start"], command["end"], **command["options"]
                    )
                    _reply({"ok": True, "count": len(ids)})
                elif name == "ids":  # ground truth: the ids themselves, ascending
                    ids = server.data.expected_ids(
                        command["dataset"], command["start"], command["end"], **command["options"]
                    )
                    _reply({"ok": True, "ids": sorted(int(i) for i in ids)})
                elif name == "requests":
                    _reply({"ok": True, **_requests(server, int(command.get("since", 0)))})
                elif name == "stop":
                    _reply({"ok": True})
                    break
                else:
                    _reply({"ok": False, "error": f"unknown command {name!r}"})
            except Exception as exc:  # reported to the driver, which fails loudly
                _reply({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
