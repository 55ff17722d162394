"""Time parsing shared by the terminal commands (ccmonitor.commands.options)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import click
import pytest

from ccmonitor.commands import options

NOW = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)
NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(("text", "end", "expected"), [
    ("7d", False, NOW - timedelta(days=7)),
    ("90m", False, NOW - timedelta(minutes=90)),
    ("2026-11-27", False, datetime(2026, 11, 27, 5, tzinfo=UTC)),  # New York midnight
    ("20261127", False, datetime(2026, 11, 27, 5, tzinfo=UTC)),
    ("2026-11-27", True, datetime(2026, 11, 28, 5, tzinfo=UTC)),  # --until: the whole day
    ("2026-11-27T09:30", False, datetime(2026, 11, 27, 14, 30, tzinfo=UTC)),
    ("2026-11-27T09:30Z", False, datetime(2026, 11, 27, 9, 30, tzinfo=UTC)),
], ids=["days ago", "minutes ago", "date", "compact date", "until date", "wall time", "utc time"])
def test_when(text: str, end: bool, expected: datetime) -> None:
    assert options.when(text, NY, end=end, now=NOW) == expected


@pytest.mark.parametrize(("text", "end", "tz", "expected"), [
    ("0001-01-01", False, ZoneInfo("Asia/Tokyo"), datetime(1970, 1, 1, tzinfo=UTC)),
    ("9999-12-31", True, NY, datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ("9999-12-31T23:00", False, NY, datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ("0001-01-01", False, None, datetime(1970, 1, 1, tzinfo=UTC)),
    ("999999999d", False, NY, datetime(1970, 1, 1, tzinfo=UTC)),
], ids=["year 1 east of utc", "until the last day", "year 9999 west of utc", "year 1 local", "longest duration"])
def test_when_reads_any_time_within_1970_to_9999(text: str, end: bool, tz: ZoneInfo | None,
                                                 expected: datetime) -> None:
    assert options.when(text, tz, end=end, now=NOW) == expected


@pytest.mark.parametrize("bad", ["yesterday", "7 days", "2026-13-01", "9999999999d"])
def test_when_rejects_nonsense(bad: str) -> None:
    with pytest.raises(click.BadParameter):
        options.when(bad, NY)
