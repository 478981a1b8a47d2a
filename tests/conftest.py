from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property-based tests: a short, repeatable run by default; `make fuzz` (FUZZ_PROFILE=long) explores more.
settings.register_profile("short", max_examples=30, derandomize=True, database=None, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("long", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("FUZZ_PROFILE", "short"))

# Airflow and GX read their settings at import: give the whole session private, quiet ones.
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="pw-tests-"))
os.environ["GX_ANALYTICS_ENABLED"] = "False"
os.environ["POVERTY_WARNING_TASK_RETRIES"] = "0"  # a failing task fails the test now, not after a 10-minute retry
os.environ["POVERTY_WARNING_DATA"] = str(_SESSION_HOME / "data")
from poverty_warning.settings import DEMO_ID_HASH_KEY  # noqa: E402

os.environ["POVERTY_WARNING_ID_HASH_KEY"] = DEMO_ID_HASH_KEY  # the synthetic cities are hashed with the demo key
from poverty_warning import airflow_local  # noqa: E402

airflow_local.configure(_SESSION_HOME / "airflow")

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
EXAMPLES = SHARED / "contract" / "examples"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CLI = [sys.executable, "-m", "poverty_warning.cli"]


def pytest_collection_modifyitems(config, items):
    # Browser tests skip where Chromium is missing, but under CI a skip would leave the run green
    # with the pages never opened: there the run stops, with one line.
    if CHROMIUM is None and os.environ.get("CI") == "true" and any(
            item.path.name == "test_browser.py" for item in items):
        pytest.exit("chromium is not installed: CI=true requires the browser tests (make browser installs it)",
                    returncode=1)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_SESSION_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def small_city(tmp_path_factory) -> Path:
    """A small synthetic Shanghai: 1,500 residents, 15 months of claims."""
    from poverty_warning.synth.generator import generate

    out = tmp_path_factory.mktemp("small_city")
    generate("shanghai", 1500, dt.date(2023, 1, 1), dt.date(2024, 3, 31), 11, out)
    return out


@pytest.fixture(scope="session")
def faulty_city(tmp_path_factory):
    """A synthetic Wuhai with 2% deliberately bad rows; returns (feeds dir, injected fault counts)."""
    from poverty_warning.synth.generator import generate

    out = tmp_path_factory.mktemp("faulty_city")
    summary = generate("wuhai", 1200, dt.date(2023, 1, 1), dt.date(2023, 6, 30), 5, out, faults=0.02)
    return out, summary.faults


@pytest.fixture(scope="session")
def faulty_night(faulty_city, tmp_path_factory):
    """The faulty Wuhai landed and validated for 2023-06-30, once for every test that reads it:
    (workspace, verdict). Tests read it; they do not change it."""
    from poverty_warning import nightly
    from poverty_warning.workspace import Workspace

    feeds, _ = faulty_city
    ws = Workspace(tmp_path_factory.mktemp("faulty_night") / "data")
    nightly.ingest(ws, feeds, "2023-06-30")
    return ws, nightly.validate(ws, "2023-06-30")


@pytest.fixture(scope="session")
def claims_missing_night(small_city, tmp_path_factory):
    """The small city whose claims for 2024-03-31 never arrived: the history landed on 2024-03-30, then
    tonight's files, then validated (held), once for every test that reads it: (workspace, verdict)."""
    from poverty_warning import nightly
    from poverty_warning.workspace import Workspace

    root = tmp_path_factory.mktemp("claims_missing_night")
    feeds = root / "feeds"
    shutil.copytree(small_city, feeds)
    shutil.rmtree(feeds / "claims" / "2024-03-31")
    ws = Workspace(root / "data")
    nightly.ingest(ws, feeds, "2024-03-30")
    nightly.ingest(ws, feeds, "2024-03-31")
    return ws, nightly.validate(ws, "2024-03-31")


@pytest.fixture(scope="session")
def published_night(small_city, tmp_path_factory):
    """The small city's night of 2024-03-31 run as `run-night` runs it (every step, no webhook), once for
    every test that reads it, in a child process so that this one holds no lock on its DuckDB file."""
    from poverty_warning.workspace import Workspace

    ws = Workspace(tmp_path_factory.mktemp("published_night") / "data")
    run = ("import sys; from pathlib import Path; from poverty_warning import nightly; "
           "from poverty_warning.workspace import Workspace; "
           "nightly.run_night(Workspace(Path(sys.argv[1])), Path(sys.argv[2]), sys.argv[3], 'shanghai-2022')")
    done = subprocess.run([sys.executable, "-c", run, str(ws.root), str(small_city), "2024-03-31"],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    return ws


def read_csv(path: Path):
    import pandas as pd

    return pd.read_csv(path, dtype=str, keep_default_na=False)


def run_cli(*args, cwd=None, env=None) -> subprocess.CompletedProcess:
    """The CLI in a new process, as a user runs it."""
    return subprocess.run(CLI + list(args), capture_output=True, text=True, cwd=cwd or REPO,
                          env={**os.environ, **(env or {})})


def run_cli_here(*args, env=None) -> subprocess.CompletedProcess:
    """The CLI in this process, its stderr as a terminal would show it: what the command wrote, every log
    record at WARNING or above (the CLI's default level), and a traceback for an exception other than its
    exit. A new process spends ~10 s importing the pipeline before a one-line refusal, so tests of refusals
    use this; a few (assess's missing feed, a wrong setting, a busy warehouse) stay real processes."""
    from typer.testing import CliRunner

    from poverty_warning.cli import app

    logged: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: logged.append(f"{record.levelname} {record.name}: {record.getMessage()}\n")
    logging.getLogger().addHandler(handler)
    try:
        result = CliRunner().invoke(app, list(args), env=env)
    finally:
        logging.getLogger().removeHandler(handler)
    stderr = result.stderr + "".join(logged)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))  # starts "Traceback (most recent …"
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, stderr)
