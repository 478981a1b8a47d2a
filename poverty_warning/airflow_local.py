"""Airflow on SQLite inside the data directory, for the demo and the tests (dag.test)."""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from poverty_warning.nightly import WAREHOUSE_POOL
from poverty_warning.settings import DAGS_DIR



def configure(home: Path) -> None:
    """Point Airflow at a private home and SQLite database; call before importing airflow."""
    home.mkdir(parents=True, exist_ok=True)
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_DIR)
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home / 'airflow.db'}"
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*deprecated.*")


def init_db() -> None:
    from airflow.models.pool import Pool
    from airflow.utils import db

    db.initdb()
    Pool.create_or_update_pool(WAREHOUSE_POOL, slots=1, description="the DuckDB warehouse: one writing task "
                               "at a time", include_deferred=False)


def load_dag():
    """The nightly DAG, built by the same factory as the DAG file the scheduler parses."""
    from poverty_warning.nightly import build_dag

    return build_dag(str(DAGS_DIR / "nightly_warning.py"))


def run_night(home: Path, night: str, conf: dict):
    """Run the nightly DAG for one night in this process; return the finished DagRun."""
    import pendulum

    configure(home)
    init_db()
    dag = load_dag()
    run_at = pendulum.parse(night, tz="Asia/Shanghai").add(days=1, hours=2)  # the 02:00 run after the night
    return dag.test(logical_date=run_at, run_conf={**conf, "night": night})


# --- A real deployment: `make airflow` (airflow standalone) and `make airflow-smoke` ------------------

DAG_ID = "nightly_warning"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(home: Path, data: Path, port: int, **overrides: str) -> dict[str, str]:
    """The environment of a local Airflow 3 deployment: its home and SQLite database under `home`, the
    project's DAG folder, the workspace `data`, and the venv's `bin` first on PATH."""
    import sys

    env = dict(os.environ)
    env.update({
        "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://localhost:{port}",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        # Parsing imports the pipeline (pandas, duckdb, ...): on a busy 2-core machine that can pass
        # Airflow's default 30 s, and the DAG would vanish and its failure callbacks would not run.
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "180",
        "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "240",
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",  # the task's calls to the api-server, same reason
        "POVERTY_WARNING_DATA": str(data), "GX_ANALYTICS_ENABLED": "False",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    })
    env.update(overrides)
    return env


def airflow_cli(env: dict, *args: str, check: bool = True) -> str:
    import subprocess

    done = subprocess.run(["airflow", *args], env=env, capture_output=True, text=True)
    if check and done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"airflow {' '.join(args[:2])} failed: {tail}")
    return done.stdout


def provision(env: dict, alert_url: str | None, webhook_url: str | None, webhook_secret: str | None,
              id_hash_key: str | None = None) -> None:
    """The metadata database, the warehouse pool, and the connections and the ID-hash key variable the DAG
    reads (when given)."""
    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    airflow_cli(env, "db", "migrate")
    airflow_cli(env, "pools", "set", WAREHOUSE_POOL, "1", "the DuckDB warehouse: one writing task at a time")
    for conn_id, url, secret in (("poverty_warning_alerts", alert_url, None),
                                 ("poverty_warning_webhook", webhook_url, webhook_secret)):
        if url:
            airflow_cli(env, "connections", "delete", conn_id, check=False)
            airflow_cli(env, "connections", "add", conn_id, "--conn-type", "http", "--conn-host", url,
                        *(["--conn-password", secret] if secret else []))
    if id_hash_key:
        airflow_cli(env, "variables", "set", "poverty_warning_id_hash_key", id_hash_key)


def start(env: dict, log_path: Path):
    """`airflow standalone` (api-server, scheduler, dag-processor, triggerer) in its own process group."""
    import subprocess

    log_path.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(["airflow", "standalone"], env=env, stdout=log_path.open("ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _processes_of(home: Path) -> list[int]:
    """Processes of the deployment on `home` (task workers run in sessions of their own): those whose
    environment has this AIRFLOW_HOME."""
    marker = f"AIRFLOW_HOME={home}".encode() + b"\0"
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in environ.read_bytes() + b"\0":
                found.append(int(environ.parent.name))
        except OSError:  # gone, or not ours
            continue
    return [pid for pid in found if pid != os.getpid()]


def stop(process, home: Path) -> None:
    """Stop the deployment started by `start`: its process group, then any of its task processes left,
    politely, then for good."""
    import signal
    import subprocess
    import time

    if process is not None and process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        except ProcessLookupError:
            pass
    for sig in (signal.SIGTERM, signal.SIGKILL):
        left = _processes_of(home)
        for pid in left:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        if left:
            time.sleep(10)


def admin_password(home: Path) -> str | None:
    import json

    path = home / "simple_auth_manager_passwords.json.generated"
    return json.loads(path.read_text()).get("admin") if path.exists() else None


def wait_until_ready(port: int, process, timeout_s: int = 600) -> None:
    """Until the API reports the metadatabase, scheduler and dag-processor healthy and the DAG is parsed."""
    import time

    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"airflow standalone exited with code {process.returncode}")
        try:
            health = httpx.get(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5).json()
            if all(health.get(c, {}).get("status") == "healthy" for c in ("metadatabase", "scheduler", "dag_processor")):
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(3)
    raise RuntimeError(f"Airflow did not come up within {timeout_s} s")


class Api:
    """The Airflow REST API with a token for the standalone admin."""

    def __init__(self, port: int, home: Path):
        import httpx

        self.base = f"http://127.0.0.1:{port}"
        token = httpx.post(f"{self.base}/auth/token", json={"username": "admin", "password": admin_password(home)},
                           timeout=30).json()["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, attempts: int = 10) -> dict:
        """GET, retried when the api-server does not answer in time: on a loaded machine its one worker can
        stall past a timeout while the scheduler and a task take the cores (seen with a load of 14 on 2 cores)."""
        import time

        import httpx

        for attempt in range(1, attempts + 1):
            try:
                response = httpx.get(f"{self.base}/api/v2{path}", headers=self.headers, timeout=30)
                break
            except httpx.TransportError:
                if attempt == attempts:
                    raise
                time.sleep(10)
        response.raise_for_status()
        return response.json()


def wait_for_dag(api: Api, timeout_s: int = 300) -> None:
    import time

    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            api.get(f"/dags/{DAG_ID}")
            return
        except httpx.HTTPStatusError:
            time.sleep(3)
    raise RuntimeError(f"the DAG {DAG_ID} was not parsed within {timeout_s} s")


def trigger_and_wait(env: dict, api: Api, run_id: str, conf: dict, timeout_s: int = 1800) -> tuple[str, dict]:
    """`airflow dags trigger` with conf, then the run's final state and its tasks' states from the API."""
    import json
    import time

    airflow_cli(env, "dags", "trigger", DAG_ID, "--run-id", run_id, "--conf", json.dumps(conf))
    deadline = time.monotonic() + timeout_s
    state = "queued"
    while time.monotonic() < deadline:
        state = api.get(f"/dags/{DAG_ID}/dagRuns/{run_id}")["state"]
        if state in ("success", "failed"):
            break
        time.sleep(5)
    tasks = api.get(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances")["task_instances"]
    return state, {t["task_id"]: t["state"] for t in tasks}


def _stop_on_sigterm() -> None:
    """`kill` (SIGTERM) ends the command through its `finally`, which stops what it started."""
    import signal

    def terminated(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminated)


def serve(data: Path, port: int) -> None:
    """`make airflow`: the deployment in the foreground on <data>/airflow-server until Ctrl-C or kill."""
    import sys
    import time

    _stop_on_sigterm()

    from poverty_warning import settings

    home = data / "airflow-server"
    cfg = settings.get()
    env = server_env(home, data, port)
    provision(env, cfg.alert_webhook_url, cfg.webhook_url, cfg.webhook_secret or None, cfg.id_hash_key)
    process = start(env, home / "standalone.log")
    try:
        wait_until_ready(port, process)
        print(f"Airflow is up: http://localhost:{port}  login admin / {admin_password(home)}")
        print(f"AIRFLOW_HOME={home}  DAG folder {DAGS_DIR}  workspace {data}  log {home / 'standalone.log'}")
        airflow = Path(sys.executable).with_name("airflow")  # the venv's, which a new shell has not on PATH
        print(f"DAG {DAG_ID} starts paused: unpause it in the UI or with `AIRFLOW_HOME={home} {airflow} dags "
              f"unpause {DAG_ID}`. Ctrl-C stops everything.", flush=True)
        if not cfg.id_hash_key and not airflow_cli(env, "variables", "get", "poverty_warning_id_hash_key",
                                                   check=False).strip():
            print(f"No key for the keyed hash of resident IDs yet: nights fail at ingest until it is set, e.g. "
                  f"`AIRFLOW_HOME={home} {airflow} variables set poverty_warning_id_hash_key <the bureau's key>` "
                  f"(README, Operations).", flush=True)
        while process.poll() is None:
            time.sleep(2)
    except KeyboardInterrupt:
        pass
    finally:
        stop(process, home)


def smoke(persons: int = 1500, good_night: str = "2024-03-30") -> tuple[str, bool]:
    """`make airflow-smoke`: a temporary deployment runs the DAG under the real scheduler for a good night
    and for the next night, whose claims did not arrive. Returns the summary line and whether it passed."""
    import datetime as dt
    import http.server
    import json
    import shutil
    import sys
    import tempfile
    import threading
    import time

    from poverty_warning import settings
    from poverty_warning.synth.generator import generate

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    alerts: list[bytes] = []

    class AlertReceiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            alerts.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):  # quiet
            pass

    _stop_on_sigterm()
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), AlertReceiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    root = Path(tempfile.mkdtemp(prefix="pw-airflow-smoke-"))
    held_night = (dt.date.fromisoformat(good_night) + dt.timedelta(days=1)).isoformat()
    port = free_port()
    env = server_env(root / "airflow", root / "data", port,
                     POVERTY_WARNING_SCHEDULE="manual", POVERTY_WARNING_TASK_RETRIES="0",
                     AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
                     AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()))
    process, passed = None, False
    good = held = "not run"
    succeeded = total = 0
    try:
        feeds = root / "feeds"
        generate("shanghai", persons, dt.date(2023, 1, 1), dt.date.fromisoformat(held_night), 11, feeds)
        shutil.rmtree(feeds / "claims" / held_night)  # the held night's claims did not arrive
        say(f"smoke: synthetic city ({persons} residents) in {feeds}")
        provision(env, f"http://127.0.0.1:{receiver.server_address[1]}/alerts", None, None,
                  settings.DEMO_ID_HASH_KEY)  # a synthetic city
        process = start(env, root / "airflow" / "standalone.log")
        wait_until_ready(port, process)
        api = Api(port, root / "airflow")
        wait_for_dag(api)
        # Only this DAG runs: unpaused, monthly_training would start its latest month at once, beside it.
        airflow_cli(env, "dags", "unpause", DAG_ID)
        say(f"smoke: airflow standalone healthy on port {port}, DAG parsed")
        conf = {"policy_id": "shanghai-2022", "feeds_dir": str(feeds)}
        good, good_tasks = trigger_and_wait(env, api, f"smoke_good_{good_night}", {**conf, "night": good_night})
        say(f"smoke: {good_night}: {good} {good_tasks}")
        held, held_tasks = trigger_and_wait(env, api, f"smoke_held_{held_night}", {**conf, "night": held_night})
        # The DAG's failure callback runs in the dag-processor, after it parses the DAG file again.
        deadline = time.monotonic() + 300
        while not alerts and time.monotonic() < deadline:
            time.sleep(3)
        heard = "; ".join(json.loads(a).get("text", "?") for a in alerts) or "none"
        say(f"smoke: {held_night}: {held} {held_tasks}; alerts received: {heard}")
        states = list(good_tasks.values()) + list(held_tasks.values())
        succeeded, total = states.count("success"), len(states)
        passed = good == "success" and held == "failed" and len(alerts) >= 1
    except Exception as exc:  # the line below still says how far it got
        say(f"smoke: {type(exc).__name__}: {exc} (log: {root / 'airflow' / 'standalone.log'})")
    finally:
        stop(process, root / "airflow")
        receiver.shutdown()
        if passed:
            shutil.rmtree(root, ignore_errors=True)
    return f"airflow scheduler=real good_night={good} held_night={held} tasks={succeeded}/{total}", passed
