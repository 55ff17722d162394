"""CUMULATIVE points become increments per series: resets, stale resends, and a restart that never
re-counts (state persisted in metric_series)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import stored
from otlp_builders import DELTA, T0, sum_request

S = 1_000_000_000
PB = {"content-type": "application/x-protobuf"}


def send(server, req) -> None:
    r = httpx.post(f"http://127.0.0.1:{server.http_port}/v1/metrics", content=req.SerializeToString(),
                   headers=PB, timeout=10)
    assert r.status_code == 200


def total(db, **where: str) -> float:
    cond = " AND ".join(f"{k} = ?" for k in where) or "1 = 1"
    return stored.scalar(db, f"SELECT COALESCE(SUM(metric_value), 0) FROM metrics WHERE {cond}", tuple(where.values()))


@pytest.fixture
def other_db(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path | str]:
    """A second database of this test's backend (ask for it before server_factory: it outlives the servers)."""
    if backend == "sqlite":
        yield tmp_path / "other.db"
        return
    cluster = request.getfixturevalue("postgres_cluster")
    url = cluster.create_database()
    try:
        yield url
    finally:
        cluster.drop_database(url)


def test_cumulative_equals_delta(other_db: Path | str, server_factory) -> None:
    cum = server_factory()
    delta = server_factory(db=other_db)
    running = [100.0, 250.0, 250.0, 400.0]
    for i, v in enumerate(running):
        send(cum, sum_request([(T0, T0 + (i + 1) * S, v)]))
        send(delta, sum_request([(T0 + i * S, T0 + (i + 1) * S, v - (running[i - 1] if i else 0))],
                                temporality=DELTA))
    assert total(cum.db_path) == total(delta.db_path) == 400.0


def test_reset_by_drop_and_by_new_start(server) -> None:
    send(server, sum_request([(T0, T0 + 1 * S, 100.0)]))
    send(server, sum_request([(T0, T0 + 2 * S, 150.0)]))
    send(server, sum_request([(T0, T0 + 3 * S, 20.0)]))  # dropped: the process restarted
    send(server, sum_request([(T0 + 10 * S, T0 + 11 * S, 7.0)]))  # new start time
    send(server, sum_request([(T0 + 10 * S, T0 + 12 * S, 9.0)]))
    assert total(server.db_path) == 150 + 20 + 7 + 2


def test_stale_and_resent_points_add_nothing(server) -> None:
    send(server, sum_request([(T0, T0 + 1 * S, 100.0)]))
    send(server, sum_request([(T0, T0 + 3 * S, 300.0)]))
    send(server, sum_request([(T0, T0 + 2 * S, 200.0)]))  # a retry that arrives after a newer point
    send(server, sum_request([(T0, T0 + 3 * S, 300.0)]))  # an identical resend
    assert total(server.db_path) == 300.0


def test_series_are_per_attribute_set_and_resource(server) -> None:
    send(server, sum_request([(T0, T0 + S, 10.0)], attrs={"type": "input", "session.id": "a"}))
    send(server, sum_request([(T0, T0 + S, 20.0)], attrs={"type": "input", "session.id": "b"}))
    send(server, sum_request([(T0, T0 + S, 40.0)], attrs={"type": "input", "session.id": "a"},
                             resource={"service.name": "claude-code", "host.name": "other"}))
    send(server, sum_request([(T0, T0 + 2 * S, 15.0)], attrs={"type": "input", "session.id": "a"}))
    assert total(server.db_path) == 15 + 20 + 40
    assert total(server.db_path, session_id="a") == 55


def test_restart_never_recounts(server_factory, db_target) -> None:
    db = db_target
    first = server_factory()
    send(first, sum_request([(T0, T0 + S, 100.0)]))
    send(first, sum_request([(T0, T0 + 2 * S, 180.0)]))
    first.stop()
    second = server_factory()
    send(second, sum_request([(T0, T0 + 2 * S, 180.0)]))  # the client resends after our restart
    send(second, sum_request([(T0, T0 + 3 * S, 200.0)]))
    assert total(db) == 200.0
    assert stored.rows(db, "SELECT COUNT(*), MAX(last_value) FROM metric_series") == [(1, 200.0)]


def test_slow_cumulative_capture_survives_a_restart_midway(server_factory, db_target) -> None:
    from capture import replay, requests
    db = db_target
    reqs = requests("slow-cumulative")
    first = server_factory()
    for c in reqs[:6]:
        assert replay(c, first.ports) == 200
    first.stop()
    second = server_factory()
    for c in reqs:  # everything again, from the start, after the restart
        assert replay(c, second.ports) == 200
    assert total(db, metric_name="claude_code.token.usage", type="input") == 5100
    assert round(total(db, metric_name="claude_code.cost.usage"), 10) == 0.0347
