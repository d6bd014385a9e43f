"""A Binance loader's share of the REST weight budget, as stored with its job and served.

The loader reports it in its telemetry (`rest_weight`, app/models/messages.py), so what is
shown is the share it really paces to, not only what the service sent it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import Meta, Struct
from pydantic import BaseModel, Field

INT64_MAX = 2**63 - 1
Count = Annotated[int, Meta(ge=0, le=INT64_MAX)]


class RestWeightReport(Struct, kw_only=True, gc=False):
    """A loader's share of the exchange's REST weight budget and what it used of it."""

    share: Annotated[int, Meta(ge=0, le=INT64_MAX, description="weight per window it paces to")]
    budget: Annotated[int, Meta(ge=0, le=INT64_MAX, description="the whole budget of its market")]
    loaders: Annotated[int, Meta(ge=1, le=INT64_MAX, description="loaders sharing the budget")]
    version: Count
    used: Annotated[Count, Meta(description="weight it sent in the last window")]
    ip_used: Annotated[
        Count | None, Meta(description="X-MBX-USED-WEIGHT-1M: the whole IP's count")
    ] = None
    window_seconds: Annotated[float, Meta(gt=0, le=3600)] = 60.0
    waiting_until: Annotated[
        datetime | None, Meta(description="set while a 429/418 or full-budget wait lasts")
    ] = None


class RestWeight(BaseModel):
    share: int = Field(description="weight per window (a minute) the loader paces to")
    budget: int = Field(description="the whole budget of its market, shared by `loaders`")
    loaders: int = Field(description="running Binance loaders sharing the budget")
    version: int = Field(description="the share's version (0: the default it started with)")
    used: int = Field(description="weight it sent in the last window")
    ip_used: int | None = Field(default=None, description="X-MBX-USED-WEIGHT-1M: the IP's count")
    window_seconds: float = 60.0
    waiting_until: datetime | None = Field(
        default=None, description="set while it waits out a 429/418 or a full budget"
    )

    @classmethod
    def of(cls, report: RestWeightReport) -> RestWeight:
        return cls.model_validate(msgspec.structs.asdict(report))
