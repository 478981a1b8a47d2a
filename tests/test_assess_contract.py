"""`assess` on the contract's worked examples and on file-level faults."""
import logging
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from .conftest import EXAMPLES, read_csv, run_cli, run_cli_here

KEYS = {
    "candidates.csv": ["household_id", "rule"],
    "entitlements.csv": ["person_id", "year", "benefit"],
    "enrollment_gaps.csv": ["person_id", "category"],
}


def _same(expected: str, actual: str) -> bool:
    try:
        return Decimal(expected) == Decimal(actual)
    except ArithmeticError:
        return expected == actual


def assert_contains(expected_file: Path, actual_file: Path, keys: list[str]):
    expected, actual = read_csv(expected_file), read_csv(actual_file)
    assert set(expected.columns) <= set(actual.columns), f"{actual_file.name} lacks columns"
    by_key = {tuple(r[k] for k in keys): r for _, r in actual.iterrows()}
    for _, row in expected.iterrows():
        key = tuple(row[k] for k in keys)
        assert key in by_key, f"{actual_file.name}: missing row {key}"
        for col in expected.columns:
            assert _same(row[col], by_key[key][col]), f"{actual_file.name} {key} {col}: {row[col]} != {by_key[key][col]}"
    assert len(actual) == len(expected), f"{actual_file.name}: {len(actual)} rows, expected {len(expected)}"


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir()))
def test_worked_example(example, tmp_path):
    folder = EXAMPLES / example
    command = (folder / "command.txt").read_text(encoding="utf-8").split()
    assert command[0] == "poverty-warning"
    args = command[1:]
    args[args.index("--out") + 1] = str(tmp_path / "out")
    result = run_cli(*args, cwd=folder)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    for name, keys in KEYS.items():
        assert_contains(folder / "expected" / name, out / name, keys)
    report = read_csv(out / "load_report.csv")
    assert (report["rows_received"].astype(int)
            == report["rows_loaded"].astype(int) + report["rows_quarantined"].astype(int)).all()


@pytest.fixture()
def example_copy(tmp_path) -> Path:
    feeds = tmp_path / "feeds"
    shutil.copytree(EXAMPLES / "shanghai-2022" / "feeds", feeds)
    return feeds


def _assess(feeds: Path, out: Path, run=run_cli_here):
    return run("assess", "--feeds", str(feeds), "--policy", "shanghai-2022", "--as-of", "2024-03-10",
               "--out", str(out))


def _one_clear_line(result, *words):
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for w in words:
        assert w in lines[0]


def test_missing_required_feed_stops_before_writing(example_copy, tmp_path):
    shutil.rmtree(example_copy / "persons")
    out = tmp_path / "out"
    _one_clear_line(_assess(example_copy, out, run=run_cli), "persons", "missing")  # a real process, once
    assert not out.exists()


def test_missing_required_column_names_file_and_column(example_copy, tmp_path):
    path = example_copy / "claims" / "part-0.csv"
    text = path.read_text(encoding="utf-8").replace("settle_date", "settled")
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    _one_clear_line(_assess(example_copy, out), "claims/part-0.csv", "settle_date")
    assert not out.exists()


def test_unreadable_file_stops_the_run(example_copy, tmp_path):
    (example_copy / "enrollment" / "more.parquet").write_bytes(b"not a parquet file at all")
    out = tmp_path / "out"
    _one_clear_line(_assess(example_copy, out), "enrollment/more.parquet", "unreadable")
    assert not out.exists()


def test_empty_file_is_a_file_level_fault(example_copy, tmp_path):
    (example_copy / "persons" / "part-1.csv").write_bytes(b"")
    _one_clear_line(_assess(example_copy, tmp_path / "out"), "persons/part-1.csv")


def test_user_mistakes_are_one_line(tmp_path):
    _one_clear_line(run_cli_here("assess", "--feeds", str(tmp_path / "nowhere"), "--policy", "shanghai-2022",
                                 "--as-of", "2024-03-10", "--out", str(tmp_path / "o")), "not found")
    _one_clear_line(run_cli_here("assess", "--feeds", str(tmp_path), "--policy", "beijing-2030",
                                 "--as-of", "2024-03-10", "--out", str(tmp_path / "o")), "unknown policy")
    _one_clear_line(run_cli_here("assess", "--feeds", str(tmp_path), "--policy", "shanghai-2022",
                                 "--as-of", "10/03/2024", "--out", str(tmp_path / "o")), "--as-of")


def test_the_in_process_runner_shows_what_a_terminal_would(tmp_path, monkeypatch):
    """A bug is not a one-line refusal here either: the stray log line and the traceback both show."""
    from poverty_warning import nightly

    def broken(*args, **kwargs):
        logging.getLogger("poverty_warning.nightly").warning("a stray line")
        raise RuntimeError("a bug")

    monkeypatch.setattr(nightly, "assess", broken)
    result = _assess(tmp_path, tmp_path / "out")
    assert result.returncode == 1
    assert "WARNING poverty_warning.nightly: a stray line" in result.stderr
    assert "Traceback" in result.stderr and "RuntimeError: a bug" in result.stderr
