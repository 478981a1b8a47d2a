"""One settings object: POVERTY_WARNING_* variables and the YAML settings, validated with one clear line."""
import subprocess
import sys

import pytest

from poverty_warning import settings

from .conftest import REPO


def test_environment_variables_are_read_and_validated(monkeypatch, tmp_path):
    monkeypatch.setenv("POVERTY_WARNING_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("POVERTY_WARNING_WEBHOOK_ATTEMPTS", "7")
    cfg = settings.get()
    assert cfg.data == tmp_path / "d" and cfg.webhook_attempts == 7 and cfg.task_retries == 0  # conftest sets 0
    monkeypatch.setenv("POVERTY_WARNING_TASK_RETRIES", "-1")
    with pytest.raises(settings.SettingsError, match=r"^POVERTY_WARNING_TASK_RETRIES: .*greater than or equal to 0"):
        settings.get()


def test_a_wrong_yaml_setting_is_one_line(tmp_path):
    bad = tmp_path / "outreach.yaml"
    bad.write_text("cooldown_days: soon\nunpaid_min_amount: 50\nreferral_ratio_after_assistance: 0.4\n")
    with pytest.raises(settings.SettingsError, match=r"^outreach.yaml: cooldown_days: .*'soon'"):
        settings.outreach(bad)
    assert settings.outreach()["cooldown_days"] == 30  # the shipped defaults are valid


def test_the_cli_reports_a_wrong_variable_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "poverty_warning.cli", "run-night", "--date", "2024-03-31"],
                            capture_output=True, text=True, cwd=tmp_path,
                            env={"PATH": "/usr/bin:/bin", "POVERTY_WARNING_WEBHOOK_BACKOFF": "fast",
                                 "PYTHONPATH": str(REPO)})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: POVERTY_WARNING_WEBHOOK_BACKOFF: Input should be a valid number, unable to parse string as a "
        "number (got 'fast')"]
