"""web/params: query strings -> Filters (the URL is the shareable state of every view)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from starlette.datastructures import QueryParams

from ccmonitor.errors import InputError
from ccmonitor.web.params import days, filters, group_key, integer

NOW = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)


@pytest.mark.parametrize(("query", "span"), [
    ("", timedelta(hours=24)), ("range=1h", timedelta(hours=1)), ("range=7d", timedelta(days=7)),
    ("range=30d", timedelta(days=30))], ids=["default-24h", "1h", "7d", "30d"])
def test_presets_end_now(query: str, span: timedelta) -> None:
    f = filters(QueryParams(query), NOW)
    assert (f.since, f.until) == (NOW - span, NOW)


@pytest.mark.parametrize(("start", "expected"), [
    ("2026-11-27T16:00:00Z", datetime(2026, 11, 27, 16, tzinfo=UTC)),
    ("2026-11-27T17:30:00+01:30", datetime(2026, 11, 27, 16, tzinfo=UTC)),
    ("2026-11-27 16:00:00", datetime(2026, 11, 27, 16, tzinfo=UTC)),
    ("2026-11-27T16:00:00.000Z", datetime(2026, 11, 27, 16, tzinfo=UTC))],
    ids=["zulu", "offset", "naive-is-utc", "milliseconds"])
def test_custom_range(start: str, expected: datetime) -> None:
    f = filters(QueryParams({"range": "custom", "from": start, "to": "2026-11-27T18:00:00Z"}))
    assert f.since == expected and f.until == NOW


EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize(("start", "end", "since", "until"), [
    ("0001-01-01T00:00:00Z", "2026-11-27T18:00:00Z", EARLIEST, NOW),
    ("0001-01-01T00:00:00+09:00", "2026-11-27T18:00:00Z", EARLIEST, NOW),
    ("0001-01-01T00:00:00-05:00", "9999-12-31T23:59:59.999999Z", EARLIEST, LATEST),
    ("2026-11-27T16:00:00Z", "9999-12-31T23:59:59-05:00", datetime(2026, 11, 27, 16, tzinfo=UTC), LATEST),
    ("9999-12-31T00:00:00+14:00", "9999-12-31T23:00:00", datetime(9999, 12, 30, 10, tzinfo=UTC),
     datetime(9999, 12, 31, 23, tzinfo=UTC)),
    ("0001-01-01", "0001-01-02", EARLIEST, EARLIEST)],
    ids=["year-1", "year-1-east-of-utc", "year-1-to-year-9999", "year-9999-west-of-utc", "year-9999-in-zones",
         "before-1970-is-empty"])
def test_any_time_that_parses_is_read_within_1970_to_9999(start: str, end: str, since: datetime,
                                                           until: datetime) -> None:
    f = filters(QueryParams({"range": "custom", "from": start, "to": end}))
    assert (f.since, f.until) == (since, until)
    assert f.since.tzinfo is UTC and f.until.tzinfo is UTC


def test_every_filter() -> None:
    q = QueryParams("user=a@x.io&user=b@x.io&user=a@x.io&model=m1&terminal=vscode&session=s1"
                    "&attr.team=platform&attr.team=infra&attr.cost_center=eng-1&attr.empty=")
    f = filters(q, NOW)
    assert f.users == ("a@x.io", "b@x.io") and f.models == ("m1",) and f.terminals == ("vscode",)
    assert f.sessions == ("s1",)
    assert f.attributes == (("team", "platform"), ("team", "infra"), ("cost_center", "eng-1"))


@pytest.mark.parametrize("query", [
    "range=2d", "range=custom", "range=custom&from=2026-01-02&to=2026-01-01", "range=custom&from=x&to=y",
    "attr.a%20b=1", "attr.=1", "&".join(f"user=u{i}" for i in range(51))],
    ids=["unknown-range", "custom-without-times", "reversed", "garbage-times", "attribute-with-space",
         "empty-attribute-name", "too-many-users"])
def test_invalid(query: str) -> None:
    with pytest.raises(InputError):
        filters(QueryParams(query), NOW)


def test_integer() -> None:
    assert integer(QueryParams(""), "limit", 50) == 50
    assert integer(QueryParams("limit=7"), "limit", 50) == 7
    for bad in ("limit=-1", "limit=1.5", "limit=x", "limit=501"):
        with pytest.raises(InputError):
            integer(QueryParams(bad), "limit", 50)


def test_token_is_the_token_attribute_and_by_names_a_key() -> None:
    f = filters(QueryParams("attr.team=platform&token=laptop-7&token=ci-runner"), NOW)
    assert f.attributes == (("team", "platform"), ("ccmonitor.token", "laptop-7"), ("ccmonitor.token", "ci-runner"))
    assert group_key(QueryParams("by=ccmonitor.token")) == "ccmonitor.token" and group_key(QueryParams("")) is None
    assert days(QueryParams("")) == 7 and days(QueryParams("days=30")) == 30
    for bad in ("by=a%20b", "days=0", "days=4000"):
        with pytest.raises(InputError):
            group_key(QueryParams(bad))
            days(QueryParams(bad))
