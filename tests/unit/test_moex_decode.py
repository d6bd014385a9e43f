"""[value, decimals] numbers stay exact; snapshot/updates/removal keep the right rows."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.workers.moex.decode import Table, fixed, parse_message
from app.workers.moex.errors import MoexProtocolError


def body(kind: str, columns: list[str], data: str) -> bytes:
    return (
        (
            f'{{"properties":{{"type":"{kind}","seqnum":7,"timestamp":1769065140}},'
            f'"columns":{columns!r},"data":{data}}}'
        )
        .replace("'", '"')
        .encode()
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([Decimal("306.13"), 2], "306.13"),
        ([Decimal("306.1"), 2], "306.10"),
        ([5, 1], "5.0"),
        ([Decimal("0.00000001"), 8], "0.00000001"),
        (1234, "1234"),
        (None, None),
        ([None, 2], None),
    ],
)
def test_fixed_point_values_render_as_exact_decimal_strings(
    value: object, expected: str | None
) -> None:
    assert fixed(value) == expected


def test_numbers_never_pass_through_binary_floats() -> None:
    data = "[[[12345678901234567.89, 2]], [[0.1, 1]]]"
    message = parse_message(body("snapshot", ["PRICE"], data))
    assert [fixed(row["PRICE"]) for row in message.rows] == ["12345678901234567.89", "0.1"]


def test_message_properties_and_epoch_seconds_become_milliseconds() -> None:
    message = parse_message(body("updates", ["TICKER"], '[["SBER"]]'))
    assert (message.type, message.seqnum, message.timestamp_ms) == ("updates", 7, 1769065140000)
    assert message.rows == [{"TICKER": "SBER"}]


@pytest.mark.parametrize(
    "broken", [b"not json", body("weird", ["A"], "[[1]]"), body("snapshot", ["A", "B"], "[[1]]")]
)
def test_malformed_bodies_raise_our_protocol_error(broken: bytes) -> None:
    with pytest.raises(MoexProtocolError):
        parse_message(broken)


def test_snapshot_replaces_updates_upsert_and_removal_deletes_by_key() -> None:
    table = Table(("BUYSELL", "PRICE"))
    table.apply(
        parse_message(
            body("snapshot", ["BUYSELL", "PRICE", "QUANTITY"], '[["B",[1.5,2],3],["S",[1.6,2],4]]')
        )
    )
    table.apply(
        parse_message(
            body("updates", ["BUYSELL", "PRICE", "QUANTITY"], '[["B",[1.5,2],9],["B",[1.4,2],1]]')
        )
    )
    removed = table.apply(parse_message(body("removal", ["BUYSELL", "PRICE"], '[["S",[1.6,2]]]')))
    assert removed == [{"BUYSELL": "S", "PRICE": [Decimal("1.6"), 2], "QUANTITY": 4}]
    assert {(r["PRICE"][0], r["QUANTITY"]) for r in table.rows.values()} == {
        (Decimal("1.5"), 9),
        (Decimal("1.4"), 1),
    }
    table.apply(parse_message(body("snapshot", ["BUYSELL", "PRICE", "QUANTITY"], "[]")))
    assert table.rows == {}


def test_updates_merge_only_the_changed_columns() -> None:
    table = Table(("TICKER",))
    table.apply(parse_message(body("snapshot", ["TICKER", "LAST", "BID"], '[["SBER",1,2]]')))
    (merged,) = table.apply(parse_message(body("updates", ["TICKER", "LAST"], '[["SBER",5]]')))
    assert merged == {"TICKER": "SBER", "LAST": 5, "BID": 2}
