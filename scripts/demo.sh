#!/usr/bin/env bash
# `make demo` / `make demo-stop`: the Copernica sandbox + a real Airflow (`airflow standalone`)
# in .demo/, a backfill of the last 7 days of the example DAG `copernica_daily_sync`, and a
# summary of the files it landed.
#
#   bash scripts/demo.sh start    # (re)start everything, backfill, summarise; leaves it running
#   bash scripts/demo.sh stop     # stop what `start` started (pid files in .demo/)
#
# Environment: AIRFLOW_PORT (default 8080), COPERNICA_SANDBOX_PORT (default 8900),
# DEMO_DAYS (default 7). A busy port is reported and replaced by a free one.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEMO="$ROOT/.demo"
BIN="${VENV_BIN:-$ROOT/.venv/bin}"
PY="$BIN/python"
DAG_ID="copernica_daily_sync"
DAYS="${DEMO_DAYS:-7}"
export AIRFLOW_HOME="$DEMO/airflow"
export PATH="$BIN:$PATH" # `airflow standalone` starts its components as `airflow ...`

say() { printf '%s\n' "demo: $*"; }
die() {
    printf '%s\n' "demo: ERROR: $*" >&2
    exit 1
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pick_port() { # pick_port WANTED WHAT -> prints the port to use
    local wanted="$1" what="$2" other
    if port_busy "$wanted"; then
        other="$(free_port)"
        say "port $wanted (wanted for the $what) is already in use by another program;" >&2
        say "using port $other instead (set ${3:-a different port} to choose)." >&2
        echo "$other"
    else
        echo "$wanted"
    fi
}

stop_one() { # stop_one NAME: TERM the process group in .demo/NAME.pid, then KILL it
    local pidfile="$DEMO/$1.pid" pid
    [[ -f "$pidfile" ]] || return 0
    pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then
        say "stopping $1 (process group $pid)"
        kill -TERM -- "-$pid" 2>/dev/null || true
        for _ in $(seq 1 40); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

stop() {
    stop_one airflow
    stop_one sandbox
    say "stopped."
}

start() {
    local t0 sandbox_port api_port conn
    t0="$(date +%s)"
    [[ -x "$BIN/airflow" && -x "$BIN/copernica" ]] || die "no $BIN/airflow: run 'make demo' (it installs .venv first)"
    mkdir -p "$DEMO" "$AIRFLOW_HOME"
    stop_one airflow # a previous demo: restart cleanly, keep its database and files
    stop_one sandbox

    sandbox_port="$(pick_port "${COPERNICA_SANDBOX_PORT:-8900}" "Copernica sandbox" COPERNICA_SANDBOX_PORT)"
    api_port="$(pick_port "${AIRFLOW_PORT:-8080}" "Airflow UI/API server" AIRFLOW_PORT)"

    say "starting the Copernica sandbox on 127.0.0.1:$sandbox_port (log: .demo/sandbox.log)"
    setsid "$BIN/copernica" sandbox --port "$sandbox_port" >"$DEMO/sandbox.log" 2>&1 &
    echo $! >"$DEMO/sandbox.pid"
    for _ in $(seq 1 120); do
        grep -q '^AIRFLOW_CONN_COPERNICA_DEFAULT=' "$DEMO/sandbox.log" 2>/dev/null && break
        kill -0 "$(cat "$DEMO/sandbox.pid")" 2>/dev/null || die "the sandbox did not start: $(tail -5 "$DEMO/sandbox.log")"
        sleep 0.5
    done
    conn="$(sed -n "s/^AIRFLOW_CONN_COPERNICA_DEFAULT='\(.*\)'$/\1/p" "$DEMO/sandbox.log")"
    [[ -n "$conn" ]] || die "the sandbox did not print its connection: see .demo/sandbox.log"

    # Settings for every Airflow process started from here (nothing is written to airflow.cfg).
    export AIRFLOW_CONN_COPERNICA_DEFAULT="$conn"
    export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
    export AIRFLOW__CORE__LOAD_EXAMPLES=False
    export AIRFLOW__CORE__EXECUTOR=LocalExecutor
    export AIRFLOW__CORE__PARALLELISM=4
    export AIRFLOW__CORE__TEST_CONNECTION=Enabled
    export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///$AIRFLOW_HOME/airflow.db?timeout=60"
    export AIRFLOW__API__HOST=127.0.0.1
    export AIRFLOW__API__PORT="$api_port"
    export AIRFLOW__API__BASE_URL="http://127.0.0.1:$api_port"
    export AIRFLOW__API__WORKERS=1
    export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$api_port/execution/"
    export AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT="$(pick_port 8793 "task log server")"
    export AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT="$(pick_port 8794 "triggerer log server")"
    export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=10
    export AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES=1

    export AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT=60 # a busy laptop can be slower than 5 s
    # The backfill's runs exist before the scheduler starts, so the first tasks can start
    # before the api-server listens: let them wait for it (exponential, 1 s .. 90 s) instead
    # of failing after Airflow's default 5 attempts.
    export AIRFLOW__WORKERS__EXECUTION_API_RETRIES=12

    say "preparing the Airflow database in .demo/airflow (log: .demo/migrate.log)"
    airflow db migrate >"$DEMO/migrate.log" 2>&1 || die "airflow db migrate failed: see .demo/migrate.log"
    "$PY" -c "import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute('PRAGMA journal_mode=WAL')" \
        "$AIRFLOW_HOME/airflow.db"

    # Runs are created before the scheduler starts: SQLite copes badly with the CLI and the
    # scheduler writing the same new runs at once.
    local first last
    first="$("$PY" -c 'import datetime as d, sys; print(d.datetime.now(d.timezone.utc).date() - d.timedelta(days=int(sys.argv[1])))' "$DAYS")"
    last="$("$PY" -c 'import datetime as d; print(d.datetime.now(d.timezone.utc).date() - d.timedelta(days=1))')"
    say "registering the example DAGs and queueing the backfill (log: .demo/cli.log)"
    airflow dags reserialize >"$DEMO/cli.log" 2>&1 || die "airflow dags reserialize failed: see .demo/cli.log"
    say "\$ airflow dags unpause $DAG_ID"
    airflow dags unpause "$DAG_ID" >>"$DEMO/cli.log" 2>&1 || die "unpause failed: see .demo/cli.log"
    # `completed`: a second `make demo` runs the same days again and replaces their files.
    say "\$ airflow backfill create --dag-id $DAG_ID --from-date $first --to-date $last --reprocess-behavior completed"
    if ! airflow backfill create --dag-id "$DAG_ID" --from-date "$first" --to-date "$last" \
        --reprocess-behavior completed >>"$DEMO/cli.log" 2>&1; then
        grep -q "Another backfill is running" "$DEMO/cli.log" ||
            die "airflow backfill create failed: see .demo/cli.log"
        say "the backfill of the previous demo is still active: it carries on"
    fi

    say "starting airflow standalone: scheduler, dag-processor, triggerer, api-server (log: .demo/airflow.log)"
    setsid airflow standalone >"$DEMO/airflow.log" 2>&1 &
    echo $! >"$DEMO/airflow.pid"

    DEMO_T0="$t0" DEMO_FIRST="$first" DEMO_DAYS="$DAYS" DAG_ID="$DAG_ID" API_PORT="$api_port" "$PY" - <<'PYEOF'
import json, os, sys, time, urllib.error, urllib.request
from datetime import date, timedelta
from pathlib import Path

home = Path(os.environ["AIRFLOW_HOME"])
dag_id, days, t0 = os.environ["DAG_ID"], int(os.environ["DEMO_DAYS"]), float(os.environ["DEMO_T0"])
base = f"http://127.0.0.1:{os.environ['API_PORT']}"
pid = int((home.parent / "airflow.pid").read_text())
token = None


def say(text):
    print(f"demo: {text}", flush=True)


def api(method, path, body=None):
    global token
    if token is None:
        password = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
        req = urllib.request.Request(f"{base}/auth/token", method="POST",
                                     data=json.dumps({"username": "admin", "password": password}).encode(),
                                     headers={"Content-Type": "application/json"})
        token = json.load(urllib.request.urlopen(req, timeout=90))["access_token"]
    req = urllib.request.Request(f"{base}/api/v2/{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req, timeout=90))


def wait(what, check, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            sys.exit(f"demo: ERROR: airflow standalone exited; see .demo/airflow.log")
        try:
            result = check()
        except Exception:
            result = None
        if result:
            return result
        time.sleep(2)
    sys.exit(f"demo: ERROR: timed out waiting for {what}; see .demo/airflow.log")


def healthy():
    health = api("GET", "monitor/health")
    return all(health.get(p, {}).get("status") == "healthy" for p in ("scheduler", "triggerer", "dag_processor"))


def store_connection():
    """Also keep copernica_default in the database, so the UI lists it (with its Test button).
    The tasks read the environment variable, which Airflow looks at first."""
    conn = json.loads(os.environ["AIRFLOW_CONN_COPERNICA_DEFAULT"])
    body = {"connection_id": "copernica_default", "conn_type": conn["conn_type"],
            "host": conn["host"], "password": conn["password"], "extra": json.dumps(conn["extra"])}
    try:
        api("POST", "connections", body)
    except urllib.error.HTTPError as exc:
        if exc.code != 409:
            raise
        api("PATCH", "connections/copernica_default", body)


wait("Airflow to be up", healthy, 600)
wait(f"the DAG {dag_id} to be parsed", lambda: api("GET", f"dags/{dag_id}"), 300)
say(f"Airflow is up ({time.time() - t0:.0f}s)")
error = None
for attempt in range(3):  # the api-server may answer 500 while SQLite is busy
    try:
        store_connection()
        break
    except Exception as exc:  # only a convenience for the UI: the tasks use the environment
        error = exc
        time.sleep(3)
else:
    say(f"could not store copernica_default for the UI ({error}); carrying on")
first = date.fromisoformat(os.environ["DEMO_FIRST"])
last = first + timedelta(days=days - 1)
wanted = {(first + timedelta(days=k)).isoformat() for k in range(days)}
out = home / "data" / "copernica" / dag_id
first_file = None


def done():
    global first_file
    if first_file is None and out.exists():
        if any(p.stat().st_mtime >= t0 for p in out.rglob("*.jsonl")):
            first_file = time.time() - t0
            say(f"first file landed {first_file:.0f}s after `make demo` started")
    runs = [r for r in api("GET", f"dags/{dag_id}/dagRuns?limit=100")["dag_runs"]
            if (r.get("data_interval_start") or "")[:10] in wanted]
    latest = {}  # a day can have an older run (the scheduler's) and a newer one (the backfill's)
    for r in sorted(runs, key=lambda r: r.get("run_after") or ""):
        latest[r["data_interval_start"][:10]] = r
    finished = [r for r in latest.values() if r["state"] in ("success", "failed")]
    backfills = api("GET", f"backfills?dag_id={dag_id}")["backfills"]
    active = any(not b.get("completed_at") for b in backfills)
    return latest if len(finished) == len(wanted) and not active else None


runs = wait(f"the {days} runs of {dag_id}", done, 1800)
print()
say(f"runs of {dag_id} ({first} .. {last}, one per UTC day):")
for day in sorted(runs):
    r = runs[day]
    print(f"  {day}  {r['state']:8}  {r['run_type']:9}  {r['dag_run_id']}")
print()
say(f"files in {out}:")
total = 0
for path in sorted(out.rglob("*.jsonl")):
    rows = sum(1 for line in path.open() if line.strip())
    total += rows
    print(f"  {path.relative_to(out)}  {rows} rows")
print(f"  total: {total} rows")
if first_file is not None:
    say(f"time to first landed file: {first_file:.0f}s")
failed = [d for d, r in runs.items() if r["state"] != "success"]
if failed:
    say(f"WARNING: failed runs for {', '.join(sorted(failed))}: open them in the UI to see the logs")
PYEOF
    cat <<EOF

demo: Airflow UI:  http://127.0.0.1:$api_port   user: admin
demo: password:    in $AIRFLOW_HOME/simple_auth_manager_passwords.json.generated
demo: files:       $AIRFLOW_HOME/data/copernica/$DAG_ID/<dataset>/<start>_<end>.jsonl
demo: connection:  copernica_default points at the sandbox (Admin > Connections; the Test button works)
demo: logs:        .demo/airflow.log, .demo/sandbox.log
demo: stop with:   make demo-stop
demo: total time:  $(($(date +%s) - t0))s
EOF
}

case "${1:-start}" in
start) start ;;
stop) stop ;;
*) die "usage: $0 start|stop" ;;
esac
