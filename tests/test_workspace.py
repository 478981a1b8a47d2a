"""The workspace holds personal data: folders closed to other users, one run at a time."""
import os
import stat
import subprocess
import sys

from poverty_warning.warehouse import exclusive
from poverty_warning.workspace import Workspace

from .conftest import REPO


def test_output_folders_are_not_world_readable(tmp_path):
    ws = Workspace(tmp_path / "data").ensure()
    for folder in (ws.root, ws.root / "outputs", ws.outbox, ws.root / "reports"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o750, folder


def test_a_second_concurrent_run_exits_with_one_clear_line(tmp_path):
    ws = Workspace(tmp_path / "data")
    env = {**os.environ, "POVERTY_WARNING_DATA": str(ws.root), "PYTHONPATH": str(REPO)}
    with exclusive(ws, "run-night 2024-03-30"):
        result = subprocess.run([sys.executable, "-m", "poverty_warning.cli", "run-night", "--date", "2024-03-31",
                                 "--feeds", str(tmp_path / "feeds")], capture_output=True, text=True, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith(f"error: {ws.root} is busy (run-night 2024-03-30, pid {os.getpid()})")
    assert not ws.duckdb_path.exists()  # the second run touched nothing
