"""`poverty-warning`: the command line. User mistakes end in one clear line and exit 2."""
from __future__ import annotations

import datetime as dt
import logging
import os
import sys
from pathlib import Path
from typing import Optional

import typer

from poverty_warning.workspace import Workspace

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="因病致贫返贫预警: nightly early warning of households pushed into poverty by medical bills.")


def _fail(message: str) -> None:
    one_line = " ".join(str(message).split())
    sys.stderr.write(f"error: {one_line}\n")
    raise typer.Exit(2)


@app.callback()
def _settings_are_valid() -> None:
    """Every command starts from valid settings: a wrong POVERTY_WARNING_* value is one line, exit 2."""
    from poverty_warning import settings

    try:
        settings.get()
    except settings.SettingsError as exc:
        _fail(str(exc))


def _quiet_logs(verbose: bool = False) -> None:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("great_expectations", "dbt", "airflow", "alembic", "sqlalchemy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _date(value: str, flag: str) -> str:
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        _fail(f"{flag} must be a date YYYY-MM-DD, got {value!r}")


def _user_errors():
    """The exceptions that are a user's mistake or a bad feed, not a bug."""
    from poverty_warning.ingest.feeds import FeedFileError
    from poverty_warning.nightly import PublishHeld
    from poverty_warning.policy import PolicyError
    from poverty_warning.publish.trail import TrailError
    from poverty_warning.transform import TransformError
    from poverty_warning.warehouse import WarehouseBusy
    return (FeedFileError, PolicyError, PublishHeld, TrailError, TransformError, WarehouseBusy, ValueError, OSError)


@app.command()
def synth(
    city: str = typer.Option(..., help="shanghai, wuhai, taizhou or zhoushan"),
    persons: int = typer.Option(..., help="number of residents"),
    start: str = typer.Option(..., help="first day of claims, YYYY-MM-DD"),
    end: str = typer.Option(..., help="last day of claims, YYYY-MM-DD"),
    seed: int = typer.Option(1, help="random seed: the same seed gives the same city"),
    out: Path = typer.Option(..., help="feeds directory to write"),
    faults: float = typer.Option(0.0, help="share of deliberately bad rows added to each feed (0-0.2)"),
) -> None:
    """Write every feed of the contract for a synthetic city."""
    from poverty_warning.synth.cities import CITIES
    from poverty_warning.synth.generator import generate

    if city not in CITIES:
        _fail(f"--city must be one of {', '.join(CITIES)}, got {city!r}")
    if not 0 <= faults <= 0.2:
        _fail("--faults must be between 0 and 0.2")
    s, e = dt.date.fromisoformat(_date(start, "--start")), dt.date.fromisoformat(_date(end, "--end"))
    try:
        summary = generate(city, persons, s, e, seed, out, faults)
    except _user_errors() as exc:
        _fail(str(exc))
    out_rows = ", ".join(f"{k} {v}" for k, v in summary.rows.items())
    out.mkdir(parents=True, exist_ok=True)
    typer.echo(f"wrote {out}: {out_rows}; claims in {summary.claim_days} daily folders")


@app.command()
def assess(
    feeds: Path = typer.Option(..., help="feeds directory (one folder per feed)"),
    policy: str = typer.Option(..., help="policy id, e.g. shanghai-2022"),
    as_of: str = typer.Option(..., "--as-of", help="assessment date YYYY-MM-DD"),
    out: Path = typer.Option(..., help="output directory"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Assess feeds under a policy: candidates, entitlements, enrollment gaps, load report, quarantine."""
    _quiet_logs(verbose)
    from poverty_warning.nightly import assess as run_assess

    day = _date(as_of, "--as-of")
    try:
        counts = run_assess(feeds, policy, day, out)
    except _user_errors() as exc:
        _fail(str(exc))
    typer.echo(f"wrote {out}: " + ", ".join(f"{k} {v} rows" for k, v in counts.items()))


@app.command()
def explain(
    household: str = typer.Option(..., help="household id"),
    as_of: str = typer.Option(..., "--as-of", help="assessment date YYYY-MM-DD"),
    policy: Optional[str] = typer.Option(None, help="policy id (with --feeds: default $POVERTY_WARNING_POLICY or "
                                                    "shanghai-2022; without: must be the warehouse's)"),
    feeds: Optional[Path] = typer.Option(None, help="feeds directory: compute as `assess` does instead of reading "
                                                    "the nightly warehouse"),
    html: Optional[Path] = typer.Option(None, "--html", help="also write the trail as an HTML page"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """How each number of a household was reached: claims, entitlements, rule tests, warning (in Chinese)."""
    _quiet_logs(verbose)
    from poverty_warning.nightly import explain as run_explain
    from poverty_warning.publish import trail

    day = _date(as_of, "--as-of")
    if day > dt.date.today().isoformat():
        _fail(f"--as-of {day} is in the future")
    if feeds is not None and policy is None:
        policy = os.environ.get("POVERTY_WARNING_POLICY", "shanghai-2022")
    try:
        found = run_explain(household, day, policy, feeds)
    except _user_errors() as exc:
        _fail(str(exc))
    typer.echo(trail.text(found), nl=False)
    if html is not None:
        page = trail.html_page(f"计算明细 {household} {day}", [(f"家庭 {household}", trail.sections(found))])
        try:
            html.write_text(page, encoding="utf-8")
        except OSError as exc:
            _fail(f"cannot write {html}: {exc}")
        typer.echo(f"wrote {html}")


@app.command("run-night")
def run_night(
    date: str = typer.Option(..., help="the night, YYYY-MM-DD"),
    policy: str = typer.Option("shanghai-2022", help="policy id"),
    feeds: Optional[Path] = typer.Option(None, help="feeds directory (default: <data>/feeds)"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Run one night's steps in this process, without Airflow."""
    _quiet_logs(verbose)
    from poverty_warning.nightly import run_night as run

    ws = Workspace.default()
    try:
        result = run(ws, feeds or ws.feeds, _date(date, "--date"), policy)
    except _user_errors() as exc:
        _fail(str(exc))
    typer.echo(f"published {result['outputs']}")


@app.command()
def rebuild(
    date: str = typer.Option(..., help="the night, YYYY-MM-DD"),
    policy: str = typer.Option("shanghai-2022", help="policy id"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Rebuild every dbt model whole from all landed history (a night is otherwise incremental)."""
    _quiet_logs(verbose)
    from poverty_warning.nightly import rebuild as run

    ws = Workspace.default()
    try:
        run(ws, _date(date, "--date"), policy)
    except _user_errors() as exc:
        _fail(str(exc))
    typer.echo(f"rebuilt {date}")


@app.command()
def release(
    night: str = typer.Option(..., help="the held night, YYYY-MM-DD"),
    reviewer: str = typer.Option(..., help="the reviewer's name, recorded in the audit table meta.releases"),
    reason: str = typer.Option(..., help="why the night is safe to publish (shown on the quality report)"),
    policy: str = typer.Option(os.environ.get("POVERTY_WARNING_POLICY", "shanghai-2022"), help="policy id"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Release a held night: record the reviewer's decision, then publish and deliver its lists."""
    _quiet_logs(verbose)
    from poverty_warning.nightly import release_and_publish

    try:
        result = release_and_publish(Workspace.default(), _date(night, "--night"), policy, reviewer, reason)
    except _user_errors() as exc:
        _fail(str(exc))
    typer.echo(f"released {night} (reviewer recorded in meta.releases); published {result['outputs']}")


@app.command()
def report(
    night: str = typer.Option(..., help="the night, YYYY-MM-DD"),
    self_contained: bool = typer.Option(False, "--self-contained",
                                        help="also write quality-mail.html: one file with its charts' code, to mail"),
) -> None:
    """Rebuild a night's quality report from its recorded checks."""
    _quiet_logs()
    from poverty_warning.nightly import refresh_report
    from poverty_warning.quality.report import export_self_contained

    ws = Workspace.default()
    day = _date(night, "--night")
    if not ws.duckdb_path.exists():
        _fail(f"no warehouse at {ws.duckdb_path}: run a night first")
    try:
        path = refresh_report(ws, day)
        if path is None:
            _fail(f"night {day} has not been validated: no report")
        if self_contained:
            path = export_self_contained(ws, day)
    except _user_errors() as exc:
        _fail(str(exc))
    typer.echo(f"wrote {path}")


@app.command()
def backfill(
    start: str = typer.Option(..., "--from", help="first night, YYYY-MM-DD"),
    end: str = typer.Option(..., "--to", help="last night, YYYY-MM-DD"),
    policy: str = typer.Option("shanghai-2022", help="policy id"),
    feeds: Optional[Path] = typer.Option(None, help="feeds directory (default: <data>/feeds)"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Run the nights from..to in date order in this process, without Airflow; held nights are listed."""
    _quiet_logs(verbose)
    from poverty_warning.nightly import backfill as run

    ws = Workspace.default()
    try:
        outcome = run(ws, feeds or ws.feeds, _date(start, "--from"), _date(end, "--to"), policy)
    except _user_errors() as exc:
        _fail(str(exc))
    for night, result in outcome.items():
        typer.echo(f"{night}: {result}")
    raise typer.Exit(0 if all(r == "published" for r in outcome.values()) else 1)


@app.command()
def demo(
    persons: int = typer.Option(20000, help="size of the synthetic city"),
    city: str = typer.Option("shanghai"),
    night: str = typer.Option("2024-06-30", help="the night the DAG runs for"),
) -> None:
    """Generate a synthetic city and run the nightly DAG for one night (Airflow dag.test on SQLite)."""
    _quiet_logs()
    from poverty_warning.demo import run_demo

    try:
        run_demo(Workspace.default(), city, persons, _date(night, "--night"))
    except _user_errors() as exc:
        _fail(str(exc))


def _ml_args(city, persons, months, seed, end):
    from poverty_warning.synth.cities import CITIES

    if city not in CITIES:
        _fail(f"--city must be one of {', '.join(CITIES)}, got {city!r}")
    if months < 26:
        _fail("--months must be at least 26: a year of history, a backtest and the 6-month label horizon")
    return city, persons, months, seed, _date(end, "--end")


def _training_errors():
    from poverty_warning.risk.backtest import HistoryTooShort
    return (HistoryTooShort, *_user_errors())


def _warehouse_path(path: Path) -> Path:
    if not path.is_file():
        _fail(f"--warehouse: no warehouse file at {path}")
    return path


@app.command()
def train(
    warehouse: Optional[Path] = typer.Option(None, help="train on this pipeline warehouse's own history (DuckDB "
                                             "file; the label is built in it first, so it must be writable and free)"),
    models_dir: Path = typer.Option(None, "--models-dir", help="where the model and its card go (default models/)"),
    policy: Optional[str] = typer.Option(None, help="policy the warehouse's marts were built for (default: recorded)"),
    city: str = typer.Option("shanghai"), persons: int = typer.Option(50000), months: int = typer.Option(36),
    seed: int = typer.Option(7), end: str = typer.Option("2024-06-30"),
) -> None:
    """Train the early-warning model on a warehouse's history (or a synthetic city's), backtest it, write it and
    its card, and make it the model the nightly score uses."""
    _quiet_logs()
    from poverty_warning import training
    from poverty_warning.risk.backtest import summary_line
    from poverty_warning.settings import MODELS_DIR

    folder = models_dir or MODELS_DIR
    try:
        if warehouse is not None:
            model, metrics, path = training.train_on_warehouse(_warehouse_path(warehouse), folder, policy, seed)
        else:
            args = _ml_args(city, persons, months, seed, end)
            model, metrics, path = training.train(Workspace.default().root / "ml", *args, models_dir=folder)
    except _training_errors() as exc:
        _fail(str(exc))
    typer.echo(f"model {model.meta['version']} written to {path} (card beside it)")
    typer.echo(summary_line(metrics))


@app.command()
def evaluate(
    warehouse: Optional[Path] = typer.Option(None, help="backtest on this pipeline warehouse's own history (the "
                                             "label is built in it first, so it must be writable and free)"),
    policy: Optional[str] = typer.Option(None, help="policy the warehouse's marts were built for (default: recorded)"),
    city: str = typer.Option("shanghai"), persons: int = typer.Option(50000), months: int = typer.Option(36),
    seed: int = typer.Option(7), end: str = typer.Option("2024-06-30"),
) -> None:
    """Rerun the time-based backtest and print the comparison with the two baselines."""
    _quiet_logs()
    from poverty_warning import training
    from poverty_warning.risk.backtest import summary_line

    try:
        if warehouse is not None:
            metrics = training.evaluate_warehouse(_warehouse_path(warehouse), policy, seed)
        else:
            metrics = training.evaluate(Workspace.default().root / "ml", *_ml_args(city, persons, months, seed, end))
    except _training_errors() as exc:
        _fail(str(exc))
    typer.echo(summary_line(metrics))


@app.command()
def retrain(
    warehouse: Path = typer.Option(..., help="the pipeline warehouse whose latest history trains the challenger "
                                   "(the label is built in it first, so it must be writable and free)"),
    models_dir: Path = typer.Option(None, "--models-dir", help="where the champion lives (default models/)"),
    policy: Optional[str] = typer.Option(None, help="policy the warehouse's marts were built for (default: recorded)"),
    seed: int = typer.Option(7),
) -> None:
    """The monthly task: train a challenger, backtest it against the champion on the same recent months, and
    promote it only if PR-AUC is better and calibration (Brier) no worse; the decision goes to meta.model_registry."""
    _quiet_logs()
    from poverty_warning import training
    from poverty_warning.settings import MODELS_DIR

    try:
        decision = training.retrain(_warehouse_path(warehouse), models_dir or MODELS_DIR, policy, seed)
    except _training_errors() as exc:
        _fail(str(exc))
    typer.echo(decision.line())


@app.command()
def simulate(
    policy: str = typer.Option(..., help="policy id, e.g. shanghai-2022"),
    as_of: str = typer.Option(..., "--as-of", help="the date the lists are judged on, YYYY-MM-DD"),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="KEY=VALUE: a pack figure to change (repeatable)"),
    out: Optional[Path] = typer.Option(None, help="scenario folder (default <data>/scenarios/<policy>-<as-of>)"),
) -> None:
    """Re-run the models on the warehouse with a pack figure changed; compare lists and the fund's cost."""
    _quiet_logs()
    from poverty_warning.simulation import ScenarioError, simulate as run_simulation, summary_line

    ws = Workspace.default()
    day = _date(as_of, "--as-of")
    folder = out or ws.root / "scenarios" / f"{policy}-{day}"
    try:
        figures = run_simulation(ws, policy, day, list(set_ or []), folder)
    except (ScenarioError, *_user_errors()) as exc:
        _fail(str(exc))
    typer.echo(f"scenario written to {folder} (scenario.html, households_*.csv, fund_by_benefit_category.csv)")
    typer.echo(summary_line(figures))


@app.command()
def benchmark(
    sizes: Optional[list[int]] = typer.Argument(None, help="city sizes in persons (default 100000 1000000)"),
    docs: Path = typer.Option(Path("docs"), help="folder of benchmarks.md and benchmarks.png"),
    city: str = typer.Option("shanghai"),
) -> None:
    """Time the pipeline at city scale per stage (synth, first landing, one night), check the candidates
    against a hand-written DuckDB query and pandas, and write docs/benchmarks.md + .png."""
    _quiet_logs()
    from poverty_warning.benchmark import ReferenceMismatch, run
    from poverty_warning.synth.cities import CITIES

    if city not in CITIES:
        _fail(f"--city must be one of {', '.join(CITIES)}, got {city!r}")
    try:
        run(sizes or [100000, 1000000], docs, city, echo=typer.echo)
    except (ReferenceMismatch, *_user_errors()) as exc:
        _fail(str(exc))


@app.command()
def airflow(port: int = typer.Option(8080, help="port of the Airflow UI and API")) -> None:
    """Start Airflow 3 locally (standalone: api-server, scheduler, dag-processor) on <data>/airflow-server."""
    from poverty_warning import airflow_local

    try:
        airflow_local.serve(Workspace.default().ensure().root, port)
    except _user_errors() + (RuntimeError,) as exc:
        _fail(str(exc))


@app.command("airflow-smoke")
def airflow_smoke() -> None:
    """Run the DAG under a real, temporary Airflow scheduler for a good night and a held night; one line."""
    from poverty_warning import airflow_local

    line, passed = airflow_local.smoke()
    typer.echo(line)
    raise typer.Exit(0 if passed else 1)


@app.command("spark-check")
def spark_check(
    persons: int = typer.Option(3000, help="residents of the synthetic city"),
    city: str = typer.Option("shanghai", help="shanghai, wuhai, taizhou or zhoushan (its own policy applies)"),
    night: str = typer.Option("2024-06-30", help="the night built on both engines"),
) -> None:
    """Build a small synthetic city with dbt on DuckDB and on Spark; compare candidates, entitlements and
    enrollment gaps row for row. Needs the spark extra (`make spark-check` installs it) and Java 17."""
    _quiet_logs()
    from .synth.cities import CITIES

    if city not in CITIES:
        _fail(f"unknown city {city!r}; known: {', '.join(CITIES)}")
    try:
        import pyspark  # noqa: F401
    except ImportError:
        _fail("spark-check needs the spark extra: run `make spark-check` (installs requirements-spark.lock)")
    from poverty_warning.spark_check import run

    try:
        outcome = run([city], persons, _date(night, "--night"), say=typer.echo)
    except _user_errors() as exc:
        _fail(str(exc))
    for line in outcome.differences:
        typer.echo(line)
    typer.echo(outcome.last_line())
    raise typer.Exit(0 if outcome.identical else 1)
@app.command("coverage-map")
def coverage_map(
    out: Optional[Path] = typer.Option(None, help="file to write (default: docs/policy-coverage.md)"),
) -> None:
    """Write the policy coverage map: clause → pack entry → dbt model → test, what is not computed, open choices."""
    from poverty_warning.policy import coverage

    try:
        path = coverage.write(out or coverage.DEFAULT_OUT)
    except _user_errors() as exc:
        _fail(exc)
    typer.echo(str(path))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
