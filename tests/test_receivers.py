"""Several receivers on one PostgreSQL (issue #14): the captures' totals stay exact when consecutive
exports of one client land on different receivers, when every request is resent through another
receiver, and when a receiver is killed with SIGKILL while it writes; and one receiver rides out
PostgreSQL stopping and starting again under load, losing nothing.

Receivers are real `ccmonitor serve` processes. The reference is the same captures replayed through
one server into SQLite: both stores must hold the same totals, and their APIs must agree."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import stored
from capture import ALL, Captured, replay, requests
from conftest import RunningServer, make_config
from postgres_cluster import PostgresCluster, free_port, start_throwaway

RANGE = {"range": "custom", "from": "2020-01-01T00:00:00Z", "to": "2030-01-01T00:00:00Z"}
RETRYABLE = {503, 14, 4}  # HTTP 503; gRPC UNAVAILABLE, DEADLINE_EXCEEDED


class Receiver:
    """`ccmonitor serve` in its own process on free ports."""

    def __init__(self, db: str, **options: str) -> None:
        self.grpc, self.http, self.app = free_port(), free_port(), free_port()
        args = [sys.executable, "-m", "ccmonitor", "serve", "--db", db, "--grpc-port", str(self.grpc),
                "--http-port", str(self.http), "--app-port", str(self.app)]
        for k, v in options.items():
            args += [f"--{k.replace('_', '-')}", v]
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop/kill)
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"receiver exited: {self.log.read().decode()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.app}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("receiver did not start")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(60)
        self.log.close()


def send(c: Captured, receiver: Receiver | RunningServer, attempts: int = 1) -> int:
    """replay() with retries on 503 / UNAVAILABLE / a dropped connection, as a client does."""
    code = -1
    for _ in range(attempts):
        try:
            code = replay(c, receiver.ports if isinstance(receiver, RunningServer) else receiver)
        except httpx.TransportError:
            code = 503
        if code not in RETRYABLE:
            return code
        time.sleep(0.2)
    return code


def totals(db: Path | str) -> dict[str, Any]:
    """What the captures must add up to: sums and counts over the raw rows."""
    return {
        "metrics": stored.rows(db, "SELECT metric_name, type, model, ROUND(CAST(SUM(metric_value) AS NUMERIC), 9),"
                                   " COUNT(*) FROM metrics GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"),
        "events": stored.rows(db, "SELECT event_name, COUNT(*), COUNT(DISTINCT session_id) FROM events"
                                  " GROUP BY 1 ORDER BY 1"),
        "spans": stored.scalar(db, "SELECT COUNT(*) FROM spans"),
    }


def overview(port: int) -> dict[str, Any]:
    """Every panel of the built-in overview, over all the captures' time."""
    response = httpx.get(f"http://127.0.0.1:{port}/api/overview", params=RANGE, timeout=30)
    assert response.status_code == 200, response.text
    return dict(response.json()["panels"])


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Every capture replayed in order through one server into SQLite: (totals, overview)."""
    server = RunningServer(make_config(tmp_path_factory.mktemp("reference") / "reference.db"))
    try:
        for scenario in ALL:
            for c in requests(scenario):
                send(c, server)
        yield totals(server.db_path), overview(server.app_port)
    finally:
        server.stop()


def all_requests() -> list[Captured]:
    return [c for scenario in ALL for c in requests(scenario)]


def test_three_receivers_one_database(postgres_url: str, reference: tuple[dict[str, Any], dict[str, Any]]) -> None:
    receivers = [Receiver(postgres_url) for _ in range(3)]
    stop = threading.Event()
    try:
        reqs = all_requests()
        victim = receivers[1]
        resent, quarter = [0], len(reqs) // 4

        def hammer() -> None:  # resends already stored requests to the victim: load that changes no total
            i = 0
            while not stop.is_set():
                try:
                    replay(reqs[i % quarter], victim)
                    resent[0] += 1
                except (httpx.TransportError, RuntimeError):
                    pass
                except Exception:  # noqa: BLE001 (the victim dies mid-call: any transport error)
                    pass
                i += 1

        for n, c in enumerate(reqs):  # consecutive requests of each client go to different receivers
            alive = [r for r in receivers if r.proc.poll() is None]
            if n == quarter:
                loaders = [threading.Thread(target=hammer, daemon=True) for _ in range(3)]
                for t in loaders:
                    t.start()
            if n == len(reqs) // 2:
                time.sleep(0.5)
                victim.kill()  # SIGKILL while three threads are writing through it
                stop.set()
                for t in loaders:
                    t.join(30)
                alive = [r for r in receivers if r.proc.poll() is None]
            target = alive[n % len(alive)]
            code = send(c, target, attempts=10)
            if code in RETRYABLE:  # its receiver died under it: the client retries elsewhere
                code = send(c, alive[(n + 1) % len(alive)], attempts=10)
            assert code in (0, 200, 400), (c.scenario, c.seq, code)
        assert victim.proc.returncode == -signal.SIGKILL and resent[0] > 0
        survivors = [r for r in receivers if r.proc.poll() is None]
        for n, c in enumerate(reqs):  # every request again, through another receiver than before
            assert send(c, survivors[(n + 1) % len(survivors)], attempts=10) in (0, 200, 400)
        want_totals, want_overview = reference
        assert totals(postgres_url) == want_totals
        for r in survivors:
            assert overview(r.app) == want_overview
    finally:
        stop.set()  # a failure before the kill must not leave the loaders running
        for r in receivers:
            r.stop()


@pytest.fixture
def throwaway() -> Iterator[PostgresCluster]:
    cluster = start_throwaway()
    try:
        yield cluster
    finally:
        cluster.stop()


def test_postgres_stopped_and_started_under_load(throwaway: PostgresCluster,
                                                 reference: tuple[dict[str, Any], dict[str, Any]]) -> None:
    url = throwaway.create_database()
    server = RunningServer(make_config(url, commit_timeout_s=5.0))
    done = threading.Event()
    try:
        reqs = all_requests()
        refused, health = [0], []

        def client(mine: list[Captured]) -> None:
            for c in mine:
                while not done.is_set():  # a client keeps retrying what was refused: nothing may be lost
                    code = send(c, server)
                    if code not in RETRYABLE:
                        assert code in (0, 200, 400), (c.scenario, c.seq, code)
                        break
                    refused[0] += 1
                    time.sleep(0.2)

        by_scenario: dict[str, list[Captured]] = {}
        for c in reqs:
            by_scenario.setdefault(c.scenario, []).append(c)
        # daemon threads, told to stop when the test ends however it ends: a failure half way (pg_ctl
        # failing, say) must not leave them retrying forever and hold the test process open
        clients = [threading.Thread(target=client, args=(mine,), daemon=True) for mine in by_scenario.values()]
        for t in clients[: len(clients) // 2]:
            t.start()
        throwaway.stop_server()
        for t in clients[len(clients) // 2:]:
            t.start()
        time.sleep(3)
        health.append(httpx.get(server.url("/health"), timeout=5).status_code)
        throwaway.start_server()
        for t in clients:
            t.join(180)
        assert not any(t.is_alive() for t in clients)
        deadline = time.monotonic() + 30
        while httpx.get(server.url("/health"), timeout=5).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.5)
        health.append(httpx.get(server.url("/health"), timeout=5).status_code)
        assert refused[0] > 0 and health == [503, 200]
        want_totals, want_overview = reference
        assert totals(url) == want_totals
        assert overview(server.app_port) == want_overview
    finally:
        done.set()
        server.stop()
