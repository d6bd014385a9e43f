"""What a client may ask of the queue list: the query of GET /queues, the store's filter."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from app.models.status import Status

MAX_PAGE = 500


class QueueFilter(BaseModel):
    """Which queues, which page: newest first."""

    model_config = ConfigDict(frozen=True)

    status: Status | None = None
    symbol: str | None = Field(default=None, max_length=24, examples=["BTCUSDT"])
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)
    offset: int = Field(default=0, ge=0, le=10_000_000)
