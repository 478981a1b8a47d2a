"""Every figure pinned: change each figure of each policy pack, one at a time, and run that pack's
hand-worked cases; a figure no case notices is listed. Ends with one line `figures=N caught=M`.

    python -m tests.policy_mutations [POLICY_ID ...]      (make policy-mutations)

A figure is a rate, cap, limit, threshold, deductible, amount, age, month count, fund target or year
offset in a pack. Each is changed to 80% of its value (whole numbers rounded, and lowered by one where
rounding keeps them); where that breaks the pack's own validation (a choice's range), to 120%. A year
offset (`line_year_offset`: which year's income line a rule reads) is a figure of definition, not a
quantity: 80% of 0 is 0 and 80% of -1 rounds back to -1, so it is moved one year back instead (0 → -1,
-1 → -2), the mistake of reading the wrong year's published figure. The cases run in-process
with the packs read from a temporary folder (POVERTY_WARNING_PACKS); each case's feeds are landed
once per run and dbt parses, runs and compiles each case's project once; every mutant then rewrites
the policy tables and re-creates the models built from them from the compiled SQL.
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import logging
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from poverty_warning.policy import PACK_DIR, PolicyError, available, load_file
from poverty_warning.transform import TRAINING_MODELS

REPO = Path(__file__).resolve().parent.parent
CASES = {
    "shanghai-2022": "tests/test_policy_shanghai_2022.py",
    "shanghai-2018-mutual-aid": "tests/test_policy_mutual_aid_2018.py",
    "wuhai-2020": "tests/test_policy_wuhai_2020.py",
    "taizhou-2017": "tests/test_policy_taizhou_2017.py",
    "zhoushan-2019": "tests/test_policy_zhoushan_2019.py",
}
FIGURE_KEYS = ("rate", "value", "amount", "threshold", "ratio", "multiplier", "line_multiplier_catastrophic",
               "min_yearly_base", "min_age", "min_age_male", "min_age_female", "max_age", "max_disability_grade",
               "new_member_grace_months", "minimum", "maximum", "line_year_offset")
# Numbers in a pack that are not figures: `hospital_level` names which hospital level a rate belongs to
# (a key, like a category); changing it moves the rate, it does not change an amount. A `choice`'s
# numbers are the document's range around a figure (skipped below). tests/test_policy_figure_keys.py
# fails when a pack holds a numeric key in neither list.
NON_FIGURE_KEYS = ("hospital_level",)
# After the first run of a case only the tables built from the policy tables change (staging views
# read the replaced tables by name; the risk model's features and the training-only label models are not a
# policy output, and a night does not build the latter).
POLICY_MODELS = ["--select", "source:policy+", "--exclude", "path:models/staging", "fct_household_features",
                 TRAINING_MODELS]


@dataclass
class Figure:
    policy_id: str
    path: str
    original: float
    clause: str
    node: dict
    key: str


def figures(policy_id: str, raw: dict) -> list[Figure]:
    """Every figure of a pack, once (a YAML anchor shared by two entries is one figure)."""
    found: list[Figure] = []
    seen: set[tuple[int, str]] = set()

    def walk(node, path: str, clause: str):
        if isinstance(node, dict):
            clause = node.get("clause", clause)
            for key, value in node.items():
                if key == "choice":
                    continue  # a choice's range bounds a figure, it is not one
                here = f"{path}.{key}" if path else key
                if key in FIGURE_KEYS and isinstance(value, (int, float)) and not isinstance(value, bool):
                    if (id(node), key) not in seen:
                        seen.add((id(node), key))
                        found.append(Figure(policy_id, here, value, clause or "", node, key))
                else:
                    walk(value, here, clause)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]", clause)

    walk(raw, "", "")
    return found


def mutated_values(value: float, key: str = ""):
    if key == "line_year_offset":
        yield value - 1  # one year back: see the module docstring
        return
    for factor in (0.8, 1.2):
        if isinstance(value, int):
            new = round(value * factor)
            if new == value:
                new = value - 1 if factor < 1 else value + 1
        else:
            new = round(value * factor, 6)
        yield new


class FastAssess:
    """`assess` for repeated runs of the same cases. The first call of a case lands its feeds, parses
    and runs the dbt project and compiles the models built from the policy tables; every later call
    rewrites the policy tables and re-creates those models from their compiled SQL, in dependency
    order, as dbt's table materialization does, without dbt's per-invocation overhead."""

    def __init__(self, root: Path):
        self.root = root
        self.workspaces: dict[str, tuple] = {}

    @staticmethod
    def _dbt(ws, as_of: str, policy_id: str, command: str, manifest=None, select: list[str] | None = None):

        from dbt.cli.main import dbtRunner

        from poverty_warning.transform import TransformError, dbt_args

        args = dbt_args(ws, command, as_of, policy_id)
        result = dbtRunner(manifest=manifest).invoke(args + (select or []))
        if not result.success:
            raise TransformError(f"dbt {command} failed: {result.exception}")
        return result.result

    def _policy_models(self, ws, as_of: str, policy_id: str, manifest) -> list[tuple[str, str]]:
        """(relation, compiled SQL) of the table models built from the policy tables, upstream first.
        Models kept between nights (incremental on DuckDB) are compiled as a full refresh builds them,
        every row, so re-creating them from that SQL is the whole table a fresh night writes."""
        from graphlib import TopologicalSorter

        compiled = self._dbt(ws, as_of, policy_id, "compile", manifest, ["--full-refresh"] + POLICY_MODELS)
        nodes = {r.node.unique_id: r.node for r in compiled.results if r.node.resource_type == "model"}
        order = TopologicalSorter({uid: [d for d in n.depends_on.nodes if d in nodes] for uid, n in nodes.items()})
        models = []
        for uid in order.static_order():
            node = nodes[uid]
            assert node.config.materialized in ("table", "incremental"), f"{node.name} is not a table model"
            models.append((node.relation_name, node.compiled_code))
        return models

    def __call__(self, feeds_dir: Path, policy_id: str, as_of: str, out: Path) -> dict[str, int]:
        import duckdb

        from poverty_warning.nightly import ingest
        from poverty_warning.publish.contract_outputs import write_contract_outputs
        from poverty_warning.transform import write_policy_tables
        from poverty_warning.workspace import Workspace

        digest = hashlib.sha256(f"{policy_id}|{as_of}".encode())
        for f in sorted(feeds_dir.rglob("*.csv")):
            digest.update(str(f.relative_to(feeds_dir)).encode() + f.read_bytes())
        key = digest.hexdigest()[:16]
        if key not in self.workspaces:
            ws = Workspace(self.root / key)
            ingest(ws, feeds_dir, as_of)
            manifest = self._dbt(ws, as_of, policy_id, "parse")
            write_policy_tables(ws)
            self._dbt(ws, as_of, policy_id, "run", manifest)
            self.workspaces[key] = (ws, self._policy_models(ws, as_of, policy_id, manifest))
        else:
            ws, models = self.workspaces[key]
            write_policy_tables(ws)
            con = duckdb.connect(str(ws.duckdb_path))
            try:
                for relation, sql in models:
                    con.execute(f"CREATE OR REPLACE TABLE {relation} AS (\n{sql}\n)")
            finally:
                con.close()
        ws = self.workspaces[key][0]
        con = duckdb.connect(str(ws.duckdb_path))
        try:
            return write_contract_outputs(con, as_of, out)
        finally:
            con.close()


def run_cases(policy_id: str, packs: Path) -> bool:
    """True when the pack's hand-worked cases all pass with the packs of this folder."""
    os.environ["POVERTY_WARNING_PACKS"] = str(packs)
    args = [str(REPO / CASES[policy_id]), "-x", "-q", "-p", "no:cacheprovider",
            "--no-header", "-W", "ignore"]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = pytest.main(args)
    return code == 0


def main(argv: list[str]) -> int:
    from tests import casebook

    logging.disable(logging.WARNING)
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    chosen = argv or [p for p in available() if p in CASES]
    work = Path(tempfile.mkdtemp(prefix="policy-mutations-"))
    casebook.assess = FastAssess(work / "workspaces")
    total = caught = 0
    uncaught: list[str] = []
    try:
        baseline = work / "baseline"
        shutil.copytree(PACK_DIR, baseline, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
        for policy_id in chosen:
            if not run_cases(policy_id, baseline):
                print(f"{policy_id}: the hand-worked cases fail on the unchanged packs; fix them first")
                return 2
            # Again on the unchanged packs, now through the re-created models: a mutant must not be
            # "caught" only because the fast path computes differently from a full run.
            if not run_cases(policy_id, baseline):
                print(f"{policy_id}: the cases fail on the unchanged packs once the policy models are "
                      "re-created from compiled SQL; the fast path differs from a full run")
                return 2
            raw = yaml.safe_load((PACK_DIR / f"{policy_id}.yaml").read_text(encoding="utf-8"))
            for n, fig in enumerate(figures(policy_id, raw)):
                total += 1
                outcome = None
                for new in mutated_values(fig.original, fig.key):
                    folder = work / f"{policy_id}-{n}-{new}"
                    shutil.copytree(baseline, folder)
                    mutant = copy.deepcopy(raw)
                    target = next(f for f in figures(policy_id, mutant) if f.path == fig.path)
                    target.node[target.key] = new
                    path = folder / f"{policy_id}.yaml"
                    path.write_text(yaml.safe_dump(mutant, allow_unicode=True, sort_keys=False), encoding="utf-8")
                    try:
                        load_file(path)
                    except PolicyError:
                        continue  # outside what the pack allows: try the other direction
                    outcome = (new, not run_cases(policy_id, folder))
                    break
                label = f"{policy_id}: {fig.path} = {fig.original}"
                if outcome is None:
                    uncaught.append(f"{label}: no valid change to try")
                elif outcome[1]:
                    caught += 1
                    print(f"caught    {label} -> {outcome[0]}", flush=True)
                else:
                    uncaught.append(f"{label} -> {outcome[0]} ({fig.clause})")
                    print(f"UNCAUGHT  {label} -> {outcome[0]}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        os.environ.pop("POVERTY_WARNING_PACKS", None)
    if uncaught:
        print("figures no hand-worked case notices:")
        for line in uncaught:
            print(f"  {line}")
    print(f"figures={total} caught={caught}")
    return 0 if caught == total else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
