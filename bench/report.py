"""One row per figure: value, the baseline measured in the same run, ratio, target."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Row:
    benchmark: str
    metric: str
    value: float
    unit: str
    baseline: float | None = None
    target: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline if self.baseline else None

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "ratio": self.ratio}
