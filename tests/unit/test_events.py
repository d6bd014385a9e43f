"""queue-events are encoded by hand for speed: they must still be QueueEvent, exactly."""

import uuid

import orjson

from app.bus.kafka import encode_json
from app.control.events import events_of
from app.models.messages import QueueEvent
from app.models.queues import QueueCreate
from app.models.status import Status
from app.services.changes import QueueChange
from app.services.pipeline import new_queue

BASIC = {"symbol": "BTCUSDT", "type": "api", "time_range": "2024-01-01:2024-01-03"}


def test_an_event_is_byte_for_byte_the_pydantic_encoding_of_queue_event() -> None:
    queue = new_queue(QueueCreate.model_validate(BASIC), str(uuid.uuid4()))
    queue.status = Status.LOADING
    [encoded] = events_of(QueueChange(queue, Status.PENDING))
    expected = QueueEvent(
        event="queue.loading",
        queue_id=queue.id,
        status=Status.LOADING,
        ts=queue.updated_at,
        data=queue.model_dump(mode="json"),
    )
    assert encoded == encode_json(expected)


def test_every_status_passed_gets_its_event_and_progress_alone_gets_queue_updated() -> None:
    queue = new_queue(QueueCreate.model_validate(BASIC), str(uuid.uuid4()))
    queue.status = Status.FINISHED
    passed = (Status.LOADING, Status.FINISHED)
    events = [orjson.loads(e) for e in events_of(QueueChange(queue, Status.PENDING, passed))]
    assert [e["event"] for e in events] == ["queue.loading", "queue.finished"]
    assert [e["status"] for e in events] == ["loading", "finished"]
    [updated] = events_of(QueueChange(queue, Status.FINISHED))
    assert QueueEvent.model_validate_json(updated).event == "queue.updated"
