from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
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
from poverty_warning import airflow_local  # noqa: E402

airflow_local.configure(_SESSION_HOME / "airflow")

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
EXAMPLES = SHARED / "contract" / "examples"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


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


def read_csv(path: Path):
    import pandas as pd

    return pd.read_csv(path, dtype=str, keep_default_na=False)
