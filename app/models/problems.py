"""A validation problem that knows which field it concerns.

Cross-field checks run in model validators, where pydantic cannot point at a field; raising
FieldProblem lets the 422 renderer name the exact field anyway (`requests[2].type`).
"""

from __future__ import annotations


class FieldProblem(ValueError):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
