"""The adapter's hand-written conversions agree with protobuf's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from google.protobuf import timestamp_pb2
from hypothesis import given
from hypothesis import strategies as st

from server import codec

MOMENTS = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999), timezones=st.just(UTC)
)
OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))


@given(moment=MOMENTS, offset=OFFSETS)
def test_to_timestamp_matches_from_datetime(moment: datetime, offset: timezone) -> None:
    expected = timestamp_pb2.Timestamp()
    expected.FromDatetime(moment)
    ours = timestamp_pb2.Timestamp()
    codec.to_timestamp(moment.astimezone(offset) if 1 < moment.year < 9999 else moment, ours)
    assert (ours.seconds, ours.nanos) == (expected.seconds, expected.nanos)


def test_a_naive_moment_is_taken_as_utc() -> None:
    ours = timestamp_pb2.Timestamp()
    codec.to_timestamp(datetime(1969, 12, 31, 23, 59, 59, 500000), ours)
    assert (ours.seconds, ours.nanos) == (-1, 500_000_000)
