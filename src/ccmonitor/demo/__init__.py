"""`ccmonitor demo`: a synthetic but realistic history (N users x D days) sent through the real ingest
path, for trying the dashboard and for the query benchmark.

Every record is a real OTLP protobuf request, shaped like Claude Code's own (TELEMETRY.md: event names
and attributes, delta sums, standard attributes on every record, resource attributes such as team),
decoded, converted and stored by the same code as a live export: either POSTed to a running server
(`--url`) or handed in-process to `Ingest.export` over the database (`--db`). Like a collector's
batch processor, one request carries many sessions (one ResourceLogs / ResourceMetrics each), which
is what makes a 10M-event year feasible on a laptop. Working hours follow each user's time zone,
weekends are quiet, models, tools, rejections, API errors, retries, commits and PRs come in
plausible shares; the random generator is seeded, so a history is reproducible.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import click

from ccmonitor.demo.catalog import EVENTS_PER_USER_DAY
from ccmonitor.demo.history import history
from ccmonitor.demo.sinks import into_database, over_http

__all__ = ["demo_command", "history"]


@click.command("demo")
@click.option("--users", type=click.IntRange(1, 100_000), default=20, show_default=True)
@click.option("--days", type=click.IntRange(1, 3660), default=14, show_default=True)
@click.option("--prompts-per-day", type=click.FloatRange(0.5, 500), default=12.0, show_default=True,
              help="Average prompts per user on a working day.")
@click.option("--events", type=click.IntRange(1), help="Aim for about this many events (sets --prompts-per-day).")
@click.option("--traces", "traced_share", type=click.FloatRange(0, 1), default=0.05, show_default=True,
              help="Share of sessions that also send beta-tracing spans.")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--end", help="When the history ends (ISO 8601, default now).")
@click.option("--db", metavar="FILE|URL",  # text: a Path would make postgresql://h/db 'postgresql:/h/db'
              help="Write in-process into this SQLite file or postgresql:// database [default: the configured"
                   " one, CCMONITOR_DB].")
@click.option("--url", help="Send to a running server instead, e.g. http://127.0.0.1:4318 (its OTLP/HTTP port).")
def demo_command(users: int, days: int, prompts_per_day: float, events: int | None, traced_share: float, seed: int,
                 end: str | None, db: str | None, url: str | None) -> None:
    """Generate a realistic synthetic history through the real ingest path."""
    end_time = datetime.fromisoformat(end.replace("Z", "+00:00")) if end else datetime.now(UTC)
    end_time = end_time if end_time.tzinfo else end_time.replace(tzinfo=UTC)
    if events:
        prompts_per_day = events / (users * days * EVENTS_PER_USER_DAY)
        if prompts_per_day < 0.5:  # the fewest prompts a simulated working day has
            fewest = 0.5 * users * days * EVENTS_PER_USER_DAY
            raise click.UsageError(f"--events {events:,} is too few for {users} users over {days} days (about"
                                   f" {fewest:,.0f} at least): lower --users or --days")
    requests = history(users, days, end_time, prompts_per_day, seed, traced_share)
    started = last = time.monotonic()

    def progress(n: int) -> None:
        nonlocal last
        if time.monotonic() - last >= 5:
            last = time.monotonic()
            click.echo(f"  {n:,} events, {n / (last - started):,.0f}/s", err=True)

    if url:
        sent = over_http(url, requests, progress)
        where = url
    else:
        from ccmonitor.commands.options import database

        target = database(db)
        sent = asyncio.run(into_database(target, requests, progress))
        where = str(target)
    took = time.monotonic() - started
    click.echo(f"{sent:,} events from {users} users over {days} days into {where} in {took:.1f}s "
               f"({sent / max(took, 1e-9):,.0f} events/s)")
