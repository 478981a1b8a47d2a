"""Where a run keeps its state: the DuckDB file, the landed Parquet lake, dbt's
working files and the published outputs. `./data` unless POVERTY_WARNING_DATA
says otherwise; `assess` uses a throw-away workspace of its own.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from poverty_warning import settings


class UnsafePath(ValueError):
    """A path built from data would leave its folder: refused before anything is written."""


_NOT_IN_A_NAME = re.compile(r"[/\\\x00-\x1f\x7f]")


def under(base: Path, *parts: str) -> Path:
    """`base/part/…` for names that come from data (a sub-district code, a night, a programme id).

    Each part must be one plain file or folder name, and the result must resolve inside `base`
    (symbolic links followed); otherwise UnsafePath, whose message does not repeat the value.
    """
    for part in parts:
        if part in ("", ".", "..") or _NOT_IN_A_NAME.search(part) or len(part.encode("utf-8")) > 255:
            raise UnsafePath(f"refused a name that is not a plain file or folder name under {base}")
    path = base.joinpath(*parts)
    if not path.resolve().is_relative_to(base.resolve()):
        raise UnsafePath(f"refused a path that resolves outside {base}")
    return path


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
        return under(self.root, "outputs", night)

    def reports(self, night: str) -> Path:
        return under(self.root, "reports", night)

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
