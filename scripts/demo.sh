#!/usr/bin/env bash
# `make demo` / `make demo-stop`: the Copernica sandbox + a real Airflow (`airflow standalone`)
# in .demo/, a backfill of the last 7 days of the example DAG `copernica_daily_sync`, a
# summary of the files it landed, and the same days of clicks loaded into DuckDB
# (.demo/copernica.duckdb) with the clicks per day from one SQL query.
#
#   bash scripts/demo.sh start    # (re)start everything, backfill, summarise; leaves it running
#   bash scripts/demo.sh stop     # stop what `start` started (pid files in .demo/)
#   bash scripts/demo.sh app-env PORT  # the [copernica] app settings for a sandbox on PORT
#
# Environment: AIRFLOW_PORT (default 8080), COPERNICA_SANDBOX_PORT (default 8900),
# DEMO_DAYS (default 7). A busy port is reported and replaced by a free one.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEMO="$ROOT/.demo"
BIN="${VENV_BIN:-$ROOT/.venv/bin}"
PY="$BIN/python"
DAG_ID="copernica_daily_sync"
ASSET_DAG_ID="copernica_profiles_landed" # scheduled on the profiles asset of $DAG_ID
DAYS="${DEMO_DAYS:-7}"
SLOW_STEP_SECONDS="${DEMO_SLOW_STEP_SECONDS:-15}"
export AIRFLOW_HOME="$DEMO/airflow"
export PATH="$BIN:$PATH" # `airflow standalone` starts its components as `airflow ...`

say() { printf '%s\n' "demo: $*"; }
die() {
    printf '%s\n' "demo: ERROR: $*" >&2
    exit 1
}

now() { date +%s.%N; }

elapsed() { # elapsed FROM [TO]: seconds between two `now` stamps, one decimal
    awk -v a="$1" -v b="${2:-$(now)}" 'BEGIN { printf "%.1f", b - a }'
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

# The sandbox's OAuth app (SANDBOX_CLIENT_ID/SECRET of airflow_provider_copernica.sandbox) as
# the [copernica] section, so that Plugins > Copernica can authorize a *new* connection.
# Written out here, not imported: Airflow starts without waiting for Python to load the
# sandbox; tests/browser/test_demo_doors.py runs these against a real sandbox.
app_env() { # app_env PORT -> AIRFLOW__COPERNICA__*=... lines for the sandbox on 127.0.0.1:PORT
    local url="http://127.0.0.1:$1"
    printf '%s\n' \
        "AIRFLOW__COPERNICA__CLIENT_ID=sandbox-client" \
        "AIRFLOW__COPERNICA__CLIENT_SECRET=sandbox-client-secret-3e8b71" \
        "AIRFLOW__COPERNICA__HOST=$url" \
        "AIRFLOW__COPERNICA__AUTH_URL=$url/authenticate" \
        "AIRFLOW__COPERNICA__AUTHORIZE_URL=$url/authorize"
}

stop() {
    stop_one airflow
    stop_one sandbox
    say "stopped."
}

start() {
    local sandbox_port api_port conn
    T0="$(now)"
    [[ -x "$BIN/airflow" && -x "$BIN/copernica" ]] || die "no $BIN/airflow: run 'make demo' (it installs .venv first)"
    mkdir -p "$DEMO" "$AIRFLOW_HOME"
    stop_one airflow # a previous demo: restart cleanly, keep its database and files
    stop_one sandbox

    sandbox_port="$(pick_port "${COPERNICA_SANDBOX_PORT:-8900}" "Copernica sandbox" COPERNICA_SANDBOX_PORT)"
    api_port="$(pick_port "${AIRFLOW_PORT:-8080}" "Airflow UI/API server" AIRFLOW_PORT)"

    say "[$(elapsed "$T0")s] starting the Copernica sandbox on 127.0.0.1:$sandbox_port (log: .demo/sandbox.log)"
    setsid "$BIN/copernica" sandbox --port "$sandbox_port" >"$DEMO/sandbox.log" 2>&1 &
    echo $! >"$DEMO/sandbox.pid"

    # Settings for every Airflow process started from here (nothing is written to airflow.cfg).
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
    local setting
    while IFS= read -r setting; do export "${setting?}"; done < <(app_env "$sandbox_port")

    export AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT=60 # a busy laptop can be slower than 5 s
    # The backfill's runs exist before the scheduler starts, so the first tasks can start
    # before the api-server listens: let them wait for it instead of failing after Airflow's
    # default 5 attempts.
    # Waits of at most 2 s: a task then starts within 2 s of the api-server answering.
    export AIRFLOW__WORKERS__EXECUTION_API_RETRIES=90
    export AIRFLOW__WORKERS__EXECUTION_API_RETRY_WAIT_MAX=2

    local first last
    first="$("$PY" -c 'import datetime as d, sys; print(d.datetime.now(d.timezone.utc).date() - d.timedelta(days=int(sys.argv[1])))' "$DAYS")"
    last="$("$PY" -c 'import datetime as d; print(d.datetime.now(d.timezone.utc).date() - d.timedelta(days=1))')"

    # One Python process starts `airflow standalone` (which migrates the database) and, while
    # its components start, runs the setup as plain `airflow ...` commands in-process (each
    # `airflow` process would spend seconds importing Airflow again): the connection, the DAGs,
    # the backfill's runs, then the unpause that lets the scheduler run them. Each step timed.
    : >"$DEMO/cli.log"
    DEMO_T0="$T0" DEMO_SLOW="$SLOW_STEP_SECONDS" "$PY" - "$DEMO" "$DAG_ID" "$ASSET_DAG_ID" "$first" "$last" \
        3>&1 >>"$DEMO/cli.log" 2>&1 <<'PYEOF' || die "preparing Airflow failed: see .demo/cli.log"
import contextlib, json, os, sqlite3, subprocess, sys, time
from pathlib import Path

demo, dag_id, asset_dag_id, first, last = sys.argv[1:]
t0, slow = float(os.environ["DEMO_T0"]), float(os.environ["DEMO_SLOW"])
terminal = os.fdopen(3, "w")


def say(text):
    print(f"demo: {text}", file=terminal, flush=True)


@contextlib.contextmanager
def step(label):
    started = time.time()
    say(f"[{started - t0:.1f}s] {label}")
    print(f"\n=== {label}", flush=True)
    yield
    took = time.time() - started
    if took > slow:
        say(f"  SLOW: this step took {took:.1f}s (over {slow:.0f}s; is the machine busy?)")
    else:
        say(f"  done in {took:.1f}s")


def airflow(*argv):
    """`airflow <argv>`, in this process (the same parser and command as the CLI)."""
    print(f"$ airflow {' '.join(argv)}", flush=True)
    args = parser.parse_args(list(argv))
    args.func(args)


# `airflow standalone` first: it migrates the database itself, then starts its components;
# its api-server is the slowest to come up, and the first task needs it.
home = Path(os.environ["AIRFLOW_HOME"])
with sqlite3.connect(home / "airflow.db") as db:
    db.execute("PRAGMA journal_mode=WAL")  # kept in the file: readers never block the writer
say(f"[{time.time() - t0:.1f}s] starting airflow standalone: scheduler, dag-processor, triggerer, "
    "api-server (log: .demo/airflow.log)")
airflow_log = Path(demo) / "airflow.log"
with open(airflow_log, "wb") as out:
    standalone = subprocess.Popen(["airflow", "standalone"], stdout=out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
(Path(demo) / "airflow.pid").write_text(f"{standalone.pid}\n")

with step("loading Airflow for the setup commands"):
    from airflow.cli import cli_parser

    parser = cli_parser.get_parser()
with step("waiting for airflow standalone to migrate the database (airflow db migrate)"):
    while "standalone | Database ready" not in airflow_log.read_text(errors="replace"):
        if standalone.poll() is not None:
            sys.exit("airflow standalone exited: see .demo/airflow.log")
        time.sleep(0.2)

# Written now, before the scheduler's first loop: the runs exist when it starts, and nothing
# competes for SQLite's lock.
# The sandbox prints its connection once it listens (it started at the same time as this).
log = Path(demo) / "sandbox.log"
with step("$ airflow connections import --overwrite  (copernica_default -> the sandbox)"):
    for _ in range(240):
        line = next((l for l in log.read_text().splitlines() if l.startswith("AIRFLOW_CONN_COPERNICA_DEFAULT=")), None)
        if line:
            break
        time.sleep(0.25)
    else:
        sys.exit("the sandbox did not print its connection: see .demo/sandbox.log")
    conn = json.loads(line.split("=", 1)[1].strip("'"))
    conn["extra"] = json.dumps(conn.get("extra") or {})
    path = Path(demo) / "connection.json"  # holds the sandbox's token: removed at once
    path.write_text(json.dumps({"copernica_default": conn}))
    try:
        airflow("connections", "import", "--overwrite", str(path))
    finally:
        path.unlink()
with step("registering the example DAGs (airflow dags reserialize)"):
    airflow("dags", "reserialize")
# `completed`: a second `make demo` runs the same days again and replaces their files. The
# DAG is unpaused only afterwards, so the scheduler creates no run of its own while these are
# written (concurrent dag_run writes can crash Airflow 3.3.2's scheduler on SQLite).
with step(f"$ airflow backfill create --dag-id {dag_id} --from-date {first} --to-date {last} --reprocess-behavior completed"):
    try:
        airflow("backfill", "create", "--dag-id", dag_id, "--from-date", first, "--to-date", last,
                "--reprocess-behavior", "completed")
    except Exception as exc:
        if "Another backfill is running" not in str(exc):
            raise
        say("the backfill of the previous demo is still active: it carries on")
with step(f"$ airflow dags unpause {asset_dag_id}; airflow dags unpause {dag_id}"):
    airflow("dags", "unpause", asset_dag_id)
    airflow("dags", "unpause", dag_id)
sys.stdout.flush()
terminal.flush()
os._exit(0)  # skip the interpreter's slow teardown; nothing is left to flush
PYEOF
    kill -0 "$(cat "$DEMO/sandbox.pid")" 2>/dev/null || die "the sandbox did not start: $(tail -5 "$DEMO/sandbox.log")"

    DEMO_T0="$T0" ASSET_DAG_ID="$ASSET_DAG_ID" DEMO_FIRST="$first" DEMO_DAYS="$DAYS" DAG_ID="$DAG_ID" API_PORT="$api_port" "$PY" - <<'PYEOF'
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


wait("Airflow to be up", healthy, 600)
say(f"[{time.time() - t0:.1f}s] Airflow is up (scheduler, triggerer and dag-processor healthy)")
first = date.fromisoformat(os.environ["DEMO_FIRST"])
last = first + timedelta(days=days - 1)
wanted = {(first + timedelta(days=k)).isoformat() for k in range(days)}
out = home / "data" / "copernica" / dag_id
first_file = None


def landed():
    """Seconds from the start to the first file this demo wrote (its mtime), or None."""
    stamps = [p.stat().st_mtime for p in out.rglob("*.jsonl") if p.stat().st_mtime >= t0]
    return min(stamps) - t0 if stamps else None


def done():
    global first_file
    if first_file is None and out.exists():
        first_file = landed()
        if first_file is not None:
            say(f"[{time.time() - t0:.1f}s] first file landed {first_file:.1f}s after `make demo` started")
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
say(f"[{time.time() - t0:.1f}s] all {days} runs finished")
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
asset_dag = os.environ["ASSET_DAG_ID"]


def asset_runs():
    """The asset-triggered runs, once every asset event of the backfill was consumed."""
    assets = api("GET", "assets?limit=100")["assets"]
    profiles = [a for a in assets if a["uri"].endswith("/copernica_daily_sync/profiles?dataset=profiles")]
    if not profiles:
        return None
    queued = api("GET", f"dags/{asset_dag}/assets/queuedEvents")["queued_events"]
    runs = api("GET", f"dags/{asset_dag}/dagRuns?limit=100")["dag_runs"]
    if queued or not runs or any(r["state"] not in ("success", "failed") for r in runs):
        return None
    return runs


print()
downstream = wait(f"the asset-triggered runs of {asset_dag}", asset_runs, 300)
say(f"assets (Airflow > Assets), each with the events of this demo's runs:")
for asset in api("GET", "assets?limit=100")["assets"]:
    if "/copernica_daily_sync/" not in asset["uri"]:
        continue
    events = api("GET", f"assets/events?asset_id={asset['id']}&limit=100&order_by=-timestamp")["asset_events"]
    latest = events[0]["extra"] if events else {}
    print(f"  {asset['uri']}  {len(events)} event(s); latest extra: {json.dumps(latest)}")
say(f"{asset_dag} (schedule=[the profiles asset]) ran {len(downstream)} time(s): "
    + ", ".join(f"{r['dag_run_id']} {r['state']}" for r in downstream))
if first_file is not None:
    say(f"time to first landed file: {first_file:.1f}s")
failed = [d for d, r in runs.items() if r["state"] != "success"]
if failed:
    say(f"WARNING: failed runs for {', '.join(sorted(failed))}: open them in the UI to see the logs")
PYEOF
    # The same days of clicks as a table: CopernicaToSqlOperator into the embedded DuckDB.
    say "[$(elapsed "$T0")s] loading the same days of clicks into DuckDB (CopernicaToSqlOperator)"
    "$PY" "$ROOT/scripts/demo_database.py" "$DEMO" "$first" "$DAYS" 2>>"$DEMO/database.log" ||
        die "loading into DuckDB failed: see .demo/database.log"
    cat <<EOF

demo: Airflow UI:  http://127.0.0.1:$api_port   user: admin
demo: password:    in $AIRFLOW_HOME/simple_auth_manager_passwords.json.generated
demo: files:       $AIRFLOW_HOME/data/copernica/$DAG_ID/<dataset>/<start>_<end>.jsonl
demo: database:    $DEMO/copernica.duckdb (table clicks; docs/databases.md)
demo: connection:  copernica_default points at the sandbox (Admin > Connections; the Test button works)
demo: authorize:   Plugins > Copernica > Authorize a new connection (the sandbox's consent page)
demo: logs:        .demo/airflow.log, .demo/sandbox.log
demo: stop with:   make demo-stop
demo: total time:  $(elapsed "$T0")s
EOF
}

case "${1:-start}" in
start) start ;;
stop) stop ;;
app-env) app_env "${2:?usage: $0 app-env PORT}" ;;
*) die "usage: $0 start|stop|app-env PORT" ;;
esac
