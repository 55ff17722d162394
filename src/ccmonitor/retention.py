"""Retention policy: delete telemetry older than N days, blank prompt text older than M days, give the
space back; once from `ccmonitor prune`, hourly from `serve`. How each backend does it (short SQLite
transactions that yield to the writer; PostgreSQL dropping whole expired partitions) is the store's.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import UTC, datetime, timedelta

from ccmonitor.config import Config
from ccmonitor.errors import StoreBusy
from ccmonitor.store import Store
from ccmonitor.telemetry import utc_text

log = logging.getLogger(__name__)


def cutoff(age: timedelta, now: datetime | None = None) -> str:
    """The stored-timestamp text `age` before now: rows older than this go."""
    return utc_text((now or datetime.now(UTC)) - age)


def run_once(store: Store, retention_days: int, prompt_retention_days: int, *, prompts_after: str = "",
             halt: threading.Event | None = None) -> dict[str, int]:
    """One retention pass with the given settings (0 = off); returns what it did."""
    done: dict[str, int] = {}
    if retention_days > 0:
        done.update(store.prune(cutoff(timedelta(days=retention_days)), halt=halt))
    if prompt_retention_days > 0:
        done["prompts"] = store.blank_prompts(cutoff(timedelta(days=prompt_retention_days)), prompts_after,
                                              halt=halt)
    if any(done.values()):
        done["pages_freed"] = store.vacuum(halt=halt)
    return done


async def retention_loop(store: Store, config: Config, stop_event: asyncio.Event, interval_s: float = 3600.0) -> None:
    """Background retention for `serve`: a pass at start, then every interval, until stop_event is set."""
    if config.retention_days <= 0 and config.prompt_retention_days <= 0:
        return
    halt, prompts_after = threading.Event(), ""
    while not stop_event.is_set():
        next_after = cutoff(timedelta(days=config.prompt_retention_days)) if config.prompt_retention_days > 0 else ""
        work = asyncio.ensure_future(asyncio.to_thread(
            run_once, store, config.retention_days, config.prompt_retention_days,
            prompts_after=prompts_after, halt=halt))
        stop = asyncio.ensure_future(stop_event.wait())
        await asyncio.wait({work, stop}, return_when=asyncio.FIRST_COMPLETED)
        if stop_event.is_set():
            halt.set()  # the pass stops at its next batch boundary
        try:
            done = await work
            prompts_after = next_after  # rows before the last cutoff are blank now; scan only newer ones
            if any(done.values()):
                log.info("retention: %s", ", ".join(f"{k} {v}" for k, v in done.items() if v))
        except StoreBusy as exc:
            log.warning("retention pass stopped: %s; retrying in %.0f s", exc, interval_s)
        except Exception:
            log.exception("retention pass failed; retrying in %.0f s", interval_s)
        if not stop.done():
            await asyncio.wait({stop}, timeout=interval_s)
        stop.cancel()
