"""Under CI=true a test that cannot run fails the run instead of skipping quietly."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_ci_without_a_browser_fails_with_one_clear_line(tmp_path):
    # A PATH without Debian's chromium: only this interpreter's own bin folder.
    env = {**os.environ, "CI": "true", "PATH": str(Path(sys.executable).parent)}
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/test_browser.py"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    lines = [line for line in result.stdout.splitlines() + result.stderr.splitlines() if "chromium" in line]
    assert len(lines) == 1 and "CI=true requires the browser tests" in lines[0], result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
