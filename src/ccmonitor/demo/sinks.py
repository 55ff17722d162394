"""Where a history goes: in-process through `Ingest.export` (the call both receivers make) into a
database, or over OTLP/HTTP to a running server."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from ccmonitor.ingest import Ingest
from ccmonitor.otlp.decode import PROTOBUF
from ccmonitor.otlp.signals import SIGNALS, Export, Rules
from ccmonitor.store import open_store

Progress = Callable[[int], None]


async def into_database(db: Path | str, requests: Iterator[tuple[str, bytes, int]], progress: Progress) -> int:
    """Through Ingest.export, the very call the receivers make, with a few requests in flight."""
    store = await asyncio.to_thread(lambda: open_store(db, synchronous="NORMAL", queue_max_records=1_000_000))
    ingest = Ingest(store, max_inflight_bytes=1 << 30, commit_timeout_s=600)
    rules = Rules()
    pending: list[asyncio.Task[Any]] = []
    events = 0
    try:
        for signal, body, n in requests:
            export = Export(SIGNALS[signal], body, PROTOBUF, None, rules)
            pending.append(asyncio.create_task(ingest.export(export, len(body), "demo")))
            events += n
            progress(events)
            if len(pending) >= 4:
                await pending.pop(0)
        await asyncio.gather(*pending)
    finally:
        await asyncio.to_thread(store.close)
    return events


def over_http(url: str, requests: Iterator[tuple[str, bytes, int]], progress: Progress) -> int:
    """POST each request to a running server's OTLP/HTTP endpoint, honouring 503 + Retry-After."""
    events = 0
    for signal, body, n in requests:
        for _attempt in range(30):
            req = urllib.request.Request(f"{url.rstrip('/')}/v1/{signal}", data=body, method="POST",
                                         headers={"content-type": "application/x-protobuf"})
            try:
                with urllib.request.urlopen(req, timeout=120) as response:
                    response.read()
                break
            except urllib.error.HTTPError as exc:
                if exc.code != 503:
                    raise click.ClickException(f"{url} answered {exc.code} to a {signal} export") from None
                time.sleep(float(exc.headers.get("retry-after") or 1))
        events += n
        progress(events)
    return events

