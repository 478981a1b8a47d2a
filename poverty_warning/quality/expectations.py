"""Great Expectations on every night's batch, one suite per feed (expectations/<feed>.json).

Landing writes, per feed and night, a privacy-safe projection of the raw batch
(IDs masked, names and phones dropped) with one boolean column per row check
(`check__<code>`); the suites expect each to be true everywhere, plus the
required columns and a non-empty claims delivery. Only the night's batch is
validated, so the cost follows the night's volume. Results go to GX's stores
and Data Docs under <data>/gx, and a summary per expectation to
meta.gx_results for the quality report's history.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path

import duckdb
import pandas as pd

from poverty_warning.warehouse import SPILL_FOLDER, create_tables, limit_memory
from poverty_warning.contract import FEEDS, ID
from poverty_warning.ingest.rowcheck import checks_for, flag, validation_table
from poverty_warning.workspace import Workspace
from poverty_warning.settings import RESOURCES_DIR, SUITES_DIR, VENDOR_DIR

SUITE_DIR = SUITES_DIR
PERSONAL_COLUMNS = {"persons": ("name", "phone", "address"), "outreach_feedback": ("note",)}  # never leave landing in a quality batch


def projection_sql(feed: str, checked: str) -> str:
    """What GX sees of a raw batch (`checked`, a `rowcheck.checked_table`): the values as delivered, IDs
    masked and personal columns left out, plus one pass/fail column per check, in the batch's row order."""
    cols = ["_file", "_row_number"]
    for col in FEEDS[feed].columns:
        if col.name in PERSONAL_COLUMNS.get(feed, ()):
            continue
        source = f"masked:{col.name}" if col.type == ID else f"raw:{col.name}"
        cols.append(f'"{source}" AS "{col.name}"')
    cols += [f'NOT {flag(code)} AS "check__{code}"' for code in checks_for(feed)]
    return f"SELECT {', '.join(cols)} FROM {checked}"


def projection_path(lake: Path, feed: str, night: str, part: int = 0) -> Path:
    """Where landing writes part `part` of the night's projection (`projection_sql`) of a feed's batch."""
    return lake / "_batches" / feed / (f"night={night}.parquet" if part == 0 else f"night={night}.part{part}.parquet")


def batch_projection(lake: Path, feed: str, night: str) -> list[Path]:
    """The night's projection files of a feed, in landing order (none if it landed nothing)."""
    first = projection_path(lake, feed, night)
    if not first.exists():
        return []
    rest = sorted(first.parent.glob(f"night={night}.part*.parquet"),
                  key=lambda p: int(p.name.rsplit(".part", 1)[1].split(".")[0]))
    return [first, *rest]


def clear_batch_projection(lake: Path, feed: str, night: str) -> None:
    """A landing replaces the night's projection of the feed (a rerun that finds a late file validates it)."""
    for path in batch_projection(lake, feed, night):
        path.unlink()


def suite_dict(feed: str) -> dict:
    """The suite a feed starts from: generated from the contract; the JSON file is what runs.

    Each expectation's `meta.description_zh` is what Data Docs show for it (GX's own text would read
    "check__amount:assistance_paid must be in {True}"); `meta.reason_zh` is the short form the report uses."""
    name_zh = FEEDS[feed].title_zh
    expectations = [{"type": "expect_column_to_exist", "kwargs": {"column": c},
                     "meta": {"reason_zh": f"必需列 {c} 存在", "description_zh": f"{name_zh}数据包含必需列 {c}"}}
                    for c in FEEDS[feed].required_columns]
    for code, text in checks_for(feed).items():
        expectations.append({"type": "expect_column_values_to_be_in_set",
                             "kwargs": {"column": f"check__{code}", "value_set": [True]},
                             "meta": {"check": code, "reason_zh": text,
                                      "description_zh": f"{name_zh}：每一行都应满足“{text}”（不满足的行已隔离）"}})
    if feed == "claims":
        expectations.append({"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1},
                             "meta": {"reason_zh": "当晚有结算数据", "description_zh": "医保结算：当晚至少送达1行结算数据"}})
    return {"name": f"{feed}_nightly", "expectations": expectations,
            "meta": {"feed": feed, "contract": "../shared/contract/README.md §1"}}


def write_suites(folder: Path = SUITE_DIR) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for feed in FEEDS:
        path = folder / f"{feed}.json"
        path.write_text(json.dumps(suite_dict(feed), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


README_MARKERS = ("<!-- validated-columns: start (generated: make quality-docs) -->",
                  "<!-- validated-columns: end -->")


def readme_with_validation(text: str) -> str:
    """The README text with its list of validated columns replaced by the one generated from the contract."""
    start, end = README_MARKERS
    before, _, rest = text.partition(start)
    _, _, after = rest.partition(end)
    return f"{before}{start}\n{validation_table()}{end}{after}"


def write_readme_validation(readme: Path = RESOURCES_DIR / "README.md") -> None:
    readme.write_text(readme_with_validation(readme.read_text(encoding="utf-8")), encoding="utf-8")


def load_suite_dict(feed: str, folder: Path = SUITE_DIR) -> dict:
    return json.loads((folder / f"{feed}.json").read_text(encoding="utf-8"))


def _context(ws: Workspace):
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    for name in ("great_expectations", "great_expectations.core", "great_expectations.data_context"):
        logging.getLogger(name).setLevel(logging.ERROR)
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="file", project_root_dir=str(ws.root / "gx"))
    bars = context.variables.progress_bars
    globally = bars.get("globally") if isinstance(bars, dict) else getattr(bars, "globally", None)
    if globally is not False:
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        context.variables.save()
    return context


def validate_night(ws: Workspace, night: str) -> pd.DataFrame:
    """Run every feed's suite on the night's batch; return one row per expectation."""
    import great_expectations as gx

    context = _context(ws)
    source = context.data_sources.add_or_update_pandas("nightly_batches")
    rows = []
    assets: dict[str, str] = {}  # suite -> the data asset it validated
    for feed in FEEDS:
        paths = batch_projection(ws.lake, feed, night)
        if feed != "claims" and not paths:
            continue
        raw = load_suite_dict(feed)
        suite = context.suites.add_or_update(gx.ExpectationSuite(
            name=raw["name"], expectations=[gx.expectations.registry.get_expectation_impl(e["type"])(
                **e["kwargs"], meta=e.get("meta"), description=(e.get("meta") or {}).get("description_zh"))
                for e in raw["expectations"]], meta=raw.get("meta")))
        assets[raw["name"]] = f"{source.name}.{feed}"
        try:
            asset = source.get_asset(feed)
        except LookupError:
            asset = source.add_dataframe_asset(name=feed)
        try:
            batch_def = asset.get_batch_definition("night")
        except (KeyError, LookupError):
            batch_def = asset.add_batch_definition_whole_dataframe("night")
        definition = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=f"{feed}_nightly", data=batch_def, suite=suite))
        per_expectation: dict[int, dict] = {}
        for frame in _batch_chunks(feed, paths):
            result = definition.run(batch_parameters={"dataframe": frame},
                                    run_id=gx.RunIdentifier(run_name=f"night-{night}"), result_format="SUMMARY")
            for i, r in enumerate(result.results):
                _add_result(per_expectation.setdefault(i, {}), night, feed, r, len(frame))
        rows.extend(per_expectation[i] for i in sorted(per_expectation))
    _name_data_assets(context, f"night-{night}", assets)
    context.build_data_docs()
    localize_data_docs(data_docs_index(ws).parent)
    summary = pd.DataFrame(rows)
    con = duckdb.connect(str(ws.duckdb_path))
    try:
        limit_memory(con, ws.root / SPILL_FOLDER)
        create_tables(con)
        con.execute("DELETE FROM meta.gx_results WHERE night = CAST(? AS DATE)", [night])
        if not summary.empty:
            con.register("s", summary)
            con.execute("INSERT INTO meta.gx_results SELECT CAST(night AS DATE), feed, expectation, column_name, "
                        "check_code, reason_zh, success, element_count, unexpected_count FROM s")
            con.unregister("s")
    finally:
        con.close()
    return summary


GX_BATCH_ROWS = 250_000  # rows validated at a time: a backfill's batch is never held whole


def _batch_chunks(feed: str, paths: list[Path]):
    """The night's batch in frames of at most GX_BATCH_ROWS rows (one empty frame if there is none)."""
    import pyarrow.parquet as pq

    if not paths:
        yield pd.DataFrame({c: pd.Series(dtype=object) for c in FEEDS[feed].column_names})
        return
    files = [pq.ParquetFile(path) for path in paths]
    if sum(f.metadata.num_rows for f in files) == 0:
        yield files[0].schema_arrow.empty_table().to_pandas()
        return
    for parquet in files:
        for batch in parquet.iter_batches(batch_size=GX_BATCH_ROWS):
            yield batch.to_pandas()


def _add_result(row: dict, night: str, feed: str, r, rows_in_chunk: int) -> None:
    """One expectation's result on a chunk, added to its result on the chunks before: it succeeds on the
    batch if it succeeded on every chunk (a row count is checked per chunk too, and every chunk but the
    only, empty one has rows), and its counts add up."""
    cfg = r.expectation_config
    elements = int(r.result.get("element_count") or rows_in_chunk)
    unexpected = int(r.result.get("unexpected_count") or 0)
    if not row:
        row.update({"night": night, "feed": feed, "expectation": cfg.type, "column_name": cfg.kwargs.get("column"),
                    "check_code": (cfg.meta or {}).get("check"), "reason_zh": (cfg.meta or {}).get("reason_zh"),
                    "success": bool(r.success), "element_count": elements, "unexpected_count": unexpected})
        return
    row["success"] = row["success"] and bool(r.success)
    row["element_count"] += elements
    row["unexpected_count"] += unexpected


def _name_data_assets(context, run_name: str, assets: dict[str, str]) -> None:
    """Data Docs title a validation by the data asset name in its batch spec, which a dataframe batch
    lacks ("Data asset: None"): write the asset's name into the night's stored results."""
    store = context.validation_results_store
    for key in store.list_keys():
        asset = assets.get(key.expectation_suite_identifier.name)
        if key.run_id.run_name != run_name or asset is None:
            continue
        result = store.get(key)
        spec = dict(result.meta.get("batch_spec") or {})
        if spec.get("data_asset_name") != asset:
            result.meta["batch_spec"] = {**spec, "data_asset_name": asset}
            store.set(key, result)


VENDOR = VENDOR_DIR
# CDN address in the Data Docs templates -> file in the npm packages of vendor/package.json.
CDN_ASSETS = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/dist/jquery.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap/dist/css/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap/dist/js/bootstrap.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.js/dist/umd/popper.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "bootstrap-table/dist/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table/dist/bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        "bootstrap-datepicker/dist/css/bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        "bootstrap-datepicker/dist/js/bootstrap-datepicker.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "@fortawesome/fontawesome-free/css/all.min.css",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
        "@forevolve/bootstrap-dark/dist/css/bootstrap-prefers-dark.css",
    "https://cdn.jsdelivr.net/npm/vega@5": "vega/build/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite/build/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed/build/vega-embed.min.js",
}
LOGO = re.compile(r"https://great-expectations-web-assets\.s3[^\"']*logo-long\.png[^\"']*")


def localize_data_docs(site: Path, vendor: Path = VENDOR) -> bool:
    """Point Data Docs at local copies of their scripts and styles: the bureau's network has no internet.
    Without the vendored packages (`make` installs them) the pages keep their CDN links."""
    if not vendor.is_dir() or not site.is_dir():
        return False
    static = site / "static" / "vendor"
    for rel in CDN_ASSETS.values():
        target = static / rel
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(vendor / rel, target)
    webfonts = vendor / "@fortawesome" / "fontawesome-free" / "webfonts"
    if webfonts.is_dir() and not (static / "@fortawesome" / "fontawesome-free" / "webfonts").exists():
        shutil.copytree(webfonts, static / "@fortawesome" / "fontawesome-free" / "webfonts")
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        rel_static = os.path.relpath(static, page.parent)
        new = text
        for url, rel in CDN_ASSETS.items():
            new = new.replace(url, f"{rel_static}/{rel}")
        new = LOGO.sub(os.path.relpath(site / "static" / "images" / "logo-long.png", page.parent), new)
        # Local files: no subresource-integrity pins or CORS mode (file:// has no origin).
        new = re.sub(r'\s+(integrity|crossorigin)="[^"]*"', "", new)
        if new != text:
            page.write_text(new, encoding="utf-8")
    return True


def data_docs_index(ws: Workspace) -> Path:
    return ws.root / "gx" / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
