"""The response envelope every REST answer uses, errors included (seed 002)."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel

T = TypeVar("T")


class Envelope(BaseModel, Generic[T]):
    status: Literal["success", "error"]
    message: str
    data: T


class ErrorEnvelope(BaseModel):
    status: Literal["error"] = "error"
    message: str
    data: Any = None


def ok(message: str, data: T) -> Envelope[T]:
    return Envelope[T](status="success", message=message, data=data)
