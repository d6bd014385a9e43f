"""Schedules: what a client asks for (ScheduleCreate, SchedulePatch), what the store keeps
(ScheduleState with its runs) and what REST answers (ScheduleView)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from app.models.problems import FieldProblem
from app.models.queues import QueueCreate, utcnow
from app.models.status import Status
from app.schedules import cron
from app.schedules.ranges import check_range

MAX_CATCH_UP = 100
RUN_HISTORY = 50
"""Runs kept in a schedule's document, newest last."""
ScheduleName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][\w .:-]*$"
    ),
]
CronText = Annotated[str, StringConstraints(max_length=cron.MAX_CRON_CHARS)]
ZoneName = Annotated[str, StringConstraints(max_length=64)]


class Concurrency(StrEnum):
    """What a slot does while an earlier run of the schedule is still active."""

    FORBID = "forbid"
    REPLACE = "replace"
    ALLOW = "allow"


class CatchUp(StrEnum):
    """What happens to slots missed while no scheduler ran (late beyond the grace)."""

    NONE = "none"
    LAST = "last"
    ALL = "all"


class RunOutcome(StrEnum):
    CLAIMED = "claimed"
    """Decided and recorded; its queue is being started (a crash here is finished later)."""
    TRIGGERED = "triggered"
    SKIPPED = "skipped"
    FAILED = "failed"


class QueueTemplate(QueueCreate):
    """A QueueCreate whose `time_range` may also be relative (today, yesterday,
    last_7_days, previous_month), resolved for each slot in the schedule's time zone."""

    @field_validator("time_range")
    @classmethod
    def _real_dates(cls, value: str) -> str:
        return check_range(value)


TEMPLATE_EXAMPLE: dict[str, Any] = {
    "symbol": "BTCUSDT",
    "type": "api",
    "time_range": "yesterday",
}


class _Policy(BaseModel):
    @field_validator("cron", check_fields=False)
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return None if value is None else cron.check(value)

    @field_validator("timezone", check_fields=False)
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            cron.zone(value)
        return value


class ScheduleCreate(_Policy):
    """A recurring queue: `queue` is started at every slot of `cron` in `timezone`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "nightly-btc",
                    "cron": "5 0 * * *",
                    "timezone": "Europe/Berlin",
                    "queue": TEMPLATE_EXAMPLE,
                }
            ]
        },
    )

    name: ScheduleName = Field(description="unique; labels metrics and the queues it makes")
    cron: CronText = Field(
        description="5 fields (minute hour day month weekday), or 6 with seconds first",
        examples=["5 0 * * *", "*/30 * * * * *"],
    )
    timezone: ZoneName = Field(default="UTC", description="IANA time zone of the cron fields")
    queue: QueueTemplate = Field(description="QueueCreate; time_range may be relative")
    concurrency: Concurrency = Field(
        default=Concurrency.FORBID,
        description="forbid: skip a slot while a run is active; replace: stop it; allow",
    )
    catch_up: CatchUp = Field(
        default=CatchUp.LAST, description="missed slots: none, the last one, or all of them"
    )
    catch_up_limit: int = Field(
        default=10, ge=1, le=MAX_CATCH_UP, description="catch_up=all runs at most this many"
    )
    enabled: bool = True


class SchedulePatch(_Policy):
    """Any subset of ScheduleCreate's fields; `queue` replaces the whole template."""

    model_config = ConfigDict(extra="forbid")

    name: ScheduleName | None = None
    cron: CronText | None = None
    timezone: ZoneName | None = None
    queue: QueueTemplate | None = None
    concurrency: Concurrency | None = None
    catch_up: CatchUp | None = None
    catch_up_limit: int | None = Field(default=None, ge=1, le=MAX_CATCH_UP)
    enabled: bool | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> SchedulePatch:
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise FieldProblem(name, "may not be null (leave it out to keep it)")
        return self

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class ScheduleRun(BaseModel):
    """One slot's decision: its queue (triggered), or why it did not run."""

    slot: datetime = Field(description="the cron time it belongs to (UTC)")
    queue_id: str | None = Field(default=None, description="derived from the slot")
    outcome: RunOutcome
    reason: str | None = None
    manual: bool = Field(default=False, description="started by POST /schedules/{id}/run")
    missed: int = Field(default=0, description="slots this record stands for (catch-up)")
    decided_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = Field(default=None, description="when its queue was started")
    replaced: list[str] = Field(default_factory=list, description="queues stopped for it")


class ScheduleState(ScheduleCreate):
    """A schedule as stored: its settings, the newest slot decided, its recent runs."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=None)

    id: str
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    cursor: datetime = Field(description="every slot up to here has been decided")
    revision: int = 0
    runs: list[ScheduleRun] = Field(default_factory=list)

    def run_of(self, slot: datetime, manual: bool = False) -> ScheduleRun | None:
        return next((r for r in self.runs if r.slot == slot and r.manual == manual), None)

    def record(self, run: ScheduleRun) -> None:
        self.runs.append(run)
        del self.runs[:-RUN_HISTORY]


class RunView(ScheduleRun):
    status: Status | None = Field(default=None, description="its queue's status now")


class ScheduleView(ScheduleState):
    """GET /schedules answers: the schedule, when it runs next, its runs newest first."""

    next_run_at: datetime | None = Field(description="null while disabled")
    cron_text: str = Field(description="the cron expression in words")
    runs: list[RunView] = Field(default_factory=list)  # type: ignore[assignment]
