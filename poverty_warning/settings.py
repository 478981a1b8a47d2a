"""Every setting of the pipeline in one object: `POVERTY_WARNING_*` variables and the YAML settings files,
validated once, with a one-line error naming the variable.

Resources (the dbt project, the GX suites and batch-check thresholds, the trained models, the DAG folder)
sit beside the package in a checkout and ship inside it as `poverty_warning/_project/` in a built wheel, so
`pip install .` (an Airflow image) finds them; `POVERTY_WARNING_PROJECT_DIR` points elsewhere.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULTS_DIR = PACKAGE_DIR / "defaults"
BUNDLED_PROJECT_DIR = PACKAGE_DIR / "_project"  # filled by the wheel build (pyproject package-dir)


class SettingsError(ValueError):
    """A setting has a wrong value; the message is one line naming it."""


class Settings(BaseSettings):
    """The environment's `POVERTY_WARNING_*` variables (names are the fields, upper-cased, prefixed)."""

    model_config = SettingsConfigDict(env_prefix="POVERTY_WARNING_", extra="ignore", frozen=True)

    data: Path = Field(Path("data"), description="the workspace: warehouse, lake, outputs, outbox, reports")
    project_dir: Path | None = Field(None, description="where dbt_project/, expectations/, models/, dags/ are")
    policy: str = Field("shanghai-2022", description="the DAG's default policy pack")
    schedule: str = Field("0 2 * * *", description="the DAG's cron schedule (Asia/Shanghai), or 'manual'")
    task_retries: int = Field(1, ge=0, le=10, description="retries of a failed DAG task (10 minutes apart)")
    webhook_url: str | None = Field(None, description="list delivery webhook, if no Airflow connection")
    webhook_secret: str = Field("", description="HMAC secret of the list webhook")
    webhook_attempts: int = Field(4, ge=1, le=20)
    webhook_backoff: float = Field(1.0, ge=0)
    alert_webhook_url: str | None = Field(None, description="where a failed or held night is reported, "
                                                            "if no Airflow connection poverty_warning_alerts")
    id_hash_key: str | None = Field(None, min_length=16, description="key of the keyed hash of resident IDs "
                                     "(contract.ids.person_key), if no Airflow variable poverty_warning_id_hash_key")
    # Limits on one feed file, checked while it is read, so that a hostile or broken file ends in a
    # file-level error instead of exhausting memory. A contract row is a few hundred bytes and at most
    # 19 columns, so 128 MiB is a generous file (about half a million rows). Landing reads a file in
    # bounded chunks into DuckDB (ingest.landing), so its memory does not grow with the file; the limits
    # stop a hostile file before the work on it starts.
    max_feed_file_bytes: int = Field(128 * 1024 * 1024, ge=1)
    max_line_bytes: int = Field(1024 * 1024, ge=1)
    max_field_chars: int = Field(64 * 1024, ge=1)
    max_columns: int = Field(256, ge=1)
    # DuckDB's memory bound (bytes like "4GB", or a share of the machine like "12.5%") and its spill folder
    # (default <data>/duckdb_spill). An eighth (3 GB of 24) kept the 1M-resident bench under 5.2 GB (the
    # pipeline's stages under 5.0), spilling, for 8% more time on the full rebuild; a quarter peaked at 7.9 GB.
    duckdb_memory_limit: str = Field("12.5%", pattern=r"^\d+(\.\d+)?\s*(%|[KMGT]i?B)$")
    duckdb_temp_directory: Path | None = None

    @property
    def resources(self) -> Path:
        if self.project_dir:
            return self.project_dir.resolve()
        checkout = PACKAGE_DIR.parent
        return checkout if (checkout / "dbt_project").is_dir() else BUNDLED_PROJECT_DIR


class OutreachSettings(BaseModel):
    """defaults/outreach.yaml: the bureau's outreach choices (not policy figures)."""

    model_config = ConfigDict(extra="forbid")

    cooldown_days: int = Field(ge=1)
    unpaid_min_amount: float = Field(ge=0)
    referral_ratio_after_assistance: float = Field(gt=0)
    due_days: dict[Literal["高", "中", "低"], int]  # days a worker has to act on a case, by priority


def _one_line(error: ValidationError, prefix: str) -> str:
    first = error.errors()[0]
    name = prefix + "_".join(str(p) for p in first["loc"]).upper() if prefix else ".".join(map(str, first["loc"]))
    return f"{name}: {first['msg']} (got {first.get('input')!r})"


def get() -> Settings:
    """The settings as the environment says now (read on each call: tests and tasks change it)."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(_one_line(exc, "POVERTY_WARNING_")) from None


# The key `make demo`, `make airflow-smoke`, the benchmark and the tests hash resident IDs with: published
# here, so it protects nothing; a bureau's warehouse must have its own (POVERTY_WARNING_ID_HASH_KEY).
DEMO_ID_HASH_KEY = "poverty-warning-demo-key-not-secret"


def id_hash_key(value: str | None = None) -> bytes:
    """The key of the keyed hash of resident IDs: `value` (an Airflow variable), else the setting; missing
    is a one-line error, since hashing with a made-up key would make the warehouse's person keys unmatchable
    from one night to the next."""
    key = value or get().id_hash_key
    if not key or len(key) < 16:
        raise SettingsError("POVERTY_WARNING_ID_HASH_KEY is missing or shorter than 16 characters (and no Airflow "
                            "variable poverty_warning_id_hash_key): the warehouse keys persons by a keyed hash of their ID; "
                            "set the bureau's key (16 characters or more, kept like a password)")
    return key.encode("utf-8")


def outreach(path: Path = DEFAULTS_DIR / "outreach.yaml") -> dict:
    """The bureau's outreach settings: cool-down, due days, thresholds of the lists."""
    try:
        return OutreachSettings(**yaml.safe_load(path.read_text(encoding="utf-8"))).model_dump()
    except ValidationError as exc:
        raise SettingsError(f"{path.name}: {_one_line(exc, '')}") from None


def _at_import() -> Settings:
    try:
        return get()
    except SettingsError:  # reported with its one line where the settings are first used
        return Settings.model_construct()


_SETTINGS = _at_import()
RESOURCES_DIR = _SETTINGS.resources
DBT_PROJECT_DIR = RESOURCES_DIR / "dbt_project"
SUITES_DIR = RESOURCES_DIR / "expectations"
MODELS_DIR = RESOURCES_DIR / "models"
DAGS_DIR = RESOURCES_DIR / "dags"
VENDOR_DIR = RESOURCES_DIR / "vendor" / "node_modules"
MAX_FEED_FILE_BYTES = _SETTINGS.max_feed_file_bytes
MAX_LINE_BYTES = _SETTINGS.max_line_bytes
MAX_FIELD_CHARS = _SETTINGS.max_field_chars
MAX_COLUMNS = _SETTINGS.max_columns
