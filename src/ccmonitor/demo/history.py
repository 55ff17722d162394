"""The history, oldest day first: each user's working days in their own time zone, sessions started
in working hours, many sessions per request (like a collector's batch), serialized for the wire."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from ccmonitor.demo.catalog import User
from ccmonitor.demo.session import Requests, Session

LOGS, METRICS, TRACES = "logs", "metrics", "traces"


def history(users: int, days: int, end: datetime, prompts_per_day: float, seed: int, traced_share: float,
            batch_records: int = 5000) -> Iterator[tuple[str, bytes, int]]:
    """(signal, serialized request, events in it), oldest day first."""
    people = [User.make(n, seed) for n in range(users)]
    first = (end - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    end_ns = int(end.timestamp() * 1e9)
    batch = Requests()
    for d in range(days + 1):
        day = first + timedelta(days=d)
        version = f"2.1.{150 + (d * 182) // max(days, 1)}"
        for user in people:
            rng = user.rng
            local = day + timedelta(hours=-user.zone)
            weekend = (local + timedelta(hours=12)).weekday() >= 5
            if rng.random() > (0.15 if weekend else 0.85):
                continue
            sessions = max(1, round(rng.gauss(2.3, 1)))
            per_session = max(1.0, prompts_per_day / sessions)
            for _ in range(sessions):
                start = local + timedelta(hours=rng.uniform(8.5, 18.5))
                start_ns = int(start.timestamp() * 1e9) + rng.randrange(10**9)
                if not first.timestamp() * 1e9 <= start_ns < end_ns - 3600 * 10**9:
                    continue
                Session(user, start_ns, batch, version, rng.random() < traced_share).run(
                    max(1, int(rng.expovariate(1 / per_session)) + 1), end_ns)
                if batch.records >= batch_records:
                    yield from _flush(batch)
                    batch = Requests()
    yield from _flush(batch)


def _flush(batch: Requests) -> Iterator[tuple[str, bytes, int]]:
    if batch.logs.resource_logs:
        yield LOGS, batch.logs.SerializeToString(), batch.events
    if batch.metrics.resource_metrics:
        yield METRICS, batch.metrics.SerializeToString(), 0
    if any(rs.scope_spans[0].spans for rs in batch.traces.resource_spans):
        yield TRACES, batch.traces.SerializeToString(), 0

