"""Where a run keeps its state: the DuckDB file, the landed Parquet lake, dbt's
working files and the published outputs. `./data` unless POVERTY_WARNING_DATA
says otherwise; `assess` uses a throw-away workspace of its own.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from poverty_warning import settings


def default_root() -> Path:
    return settings.get().data.resolve()


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def default(cls) -> "Workspace":
        return cls(default_root())

    @property
    def duckdb_path(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def lake(self) -> Path:
        return self.root / "lake"

    @property
    def dbt_target(self) -> Path:
        return self.root / "dbt" / "target"

    @property
    def dbt_logs(self) -> Path:
        return self.root / "dbt" / "logs"

    def outputs(self, night: str) -> Path:
        return self.root / "outputs" / night

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def feeds(self) -> Path:
        """The default incoming feeds folder (the demo's synthetic city lands here)."""
        return self.root / "feeds"

    def ensure(self) -> "Workspace":
        # Lists, reports and the warehouse hold personal data: other users of the machine get no access.
        for folder in (self.root, self.root / "outputs", self.outbox, self.root / "reports"):
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o750)
        return self
