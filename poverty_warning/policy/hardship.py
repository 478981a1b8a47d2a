"""Hardship measures beside the city's own rule: each measure a YAML file in `measures/` with its figures,
definition and source, validated on load like a policy pack."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from poverty_warning.policy import PARAMETER_NAMES, PolicyError

MEASURE_DIR = Path(__file__).parent / "measures"


class HardshipMeasure(BaseModel):
    model_config = ConfigDict(extra="forbid")

    measure: str = Field(pattern=r"^[a-z0-9_]+$")
    label_zh: str = Field(min_length=2)
    kind: Literal["share_of_income", "share_of_capacity_to_pay", "share_of_city_income"]
    threshold: float = Field(gt=0, le=1)
    comparison: Literal[">", ">="]
    subsistence_parameter: str | None = None
    line_parameter: str | None = None
    line_year_offset: int = 0
    source: str = Field(min_length=10)
    reading: str = Field(min_length=10)

    @model_validator(mode="after")
    def _parameters(self) -> "HardshipMeasure":
        needs = {"share_of_capacity_to_pay": "subsistence_parameter", "share_of_city_income": "line_parameter"}
        field = needs.get(self.kind)
        if field and not getattr(self, field):
            raise ValueError(f"{self.kind} needs {field}")
        for name in (self.subsistence_parameter, self.line_parameter):
            if name is not None and name not in PARAMETER_NAMES:
                raise ValueError(f"unknown parameter {name!r} (known: {', '.join(PARAMETER_NAMES)})")
        return self


def load_measure_file(path: Path) -> HardshipMeasure:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        measure = HardshipMeasure.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"{path.name}: cannot read hardship measure: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "measure"
        raise PolicyError(f"{path.name}: {where}: {first['msg']}") from None
    if measure.measure != path.stem:
        raise PolicyError(f"{path.name}: measure {measure.measure!r} does not match the file name")
    return measure


def load_measures(folder: Path = MEASURE_DIR) -> list[HardshipMeasure]:
    return [load_measure_file(p) for p in sorted(folder.glob("*.yaml"))]
