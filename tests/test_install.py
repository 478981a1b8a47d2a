"""A non-editable install (`pip install .`, as into an Airflow image) runs `assess` without the checkout."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import EXAMPLES, REPO, read_csv

UV = Path(sys.executable).parent / "uv"


@pytest.mark.slow  # ~1-2 minutes: more than the default suite should spend; `make test-install`
def test_a_non_editable_install_runs_assess(tmp_path):
    venv = tmp_path / "venv"
    quiet = {"capture_output": True, "text": True, "check": True}
    subprocess.run([str(UV), "venv", "--quiet", "--python", sys.executable, str(venv)], **quiet)
    python = venv / "bin" / "python"
    subprocess.run([str(UV), "pip", "sync", "--quiet", "--python", str(python), str(REPO / "requirements.lock")],
                   **quiet)
    source = tmp_path / "source"  # a clean copy: the build must not depend on the worktree's leftovers
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".venv", ".git", "data", "build", "*.egg-info",
                                                                "node_modules", "__pycache__"))
    subprocess.run([str(UV), "pip", "install", "--quiet", "--no-deps", "--python", str(python), str(source)],
                   **quiet)
    shutil.rmtree(source)  # nothing may be read from the source tree once installed
    example = EXAMPLES / "shanghai-2022"
    env = {k: v for k, v in os.environ.items() if not k.startswith("POVERTY_WARNING_")}
    env["POVERTY_WARNING_DATA"] = str(tmp_path / "data")
    result = subprocess.run([str(venv / "bin" / "poverty-warning"), "assess", "--feeds", str(example / "feeds"),
                             "--policy", "shanghai-2022", "--as-of", "2024-03-10", "--out", str(tmp_path / "out")],
                            capture_output=True, text=True, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    installed = subprocess.run([str(python), "-c", "import poverty_warning, sys; print(poverty_warning.__file__)"],
                               cwd=tmp_path, env=env, **quiet).stdout
    assert str(venv) in installed  # the installed copy ran, not the checkout
    expected = read_csv(example / "expected" / "candidates.csv")
    actual = read_csv(tmp_path / "out" / "candidates.csv")
    assert set(zip(expected["household_id"], expected["rule"])) == set(zip(actual["household_id"], actual["rule"]))
