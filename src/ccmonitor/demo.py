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
import hashlib
import json
import random
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, NumberDataPoint
from opentelemetry.proto.trace.v1.trace_pb2 import Span

# model: (share, $/MTok input, output, cache read, cache write, median latency ms)
MODELS = {"claude-sonnet-5-5": (0.55, 3, 15, 0.3, 3.75, 9000), "claude-opus-5-5": (0.3, 5, 25, 0.5, 6.25, 14000),
          "claude-haiku-4-5": (0.15, 1, 5, 0.1, 1.25, 2500)}
# tool: (share, median ms, edits files)
TOOLS = {"Read": (30, 40, False), "Edit": (18, 60, True), "Bash": (18, 2500, False), "Grep": (10, 120, False),
         "Glob": (6, 50, False), "Write": (5, 30, True), "TodoWrite": (5, 10, False), "WebFetch": (2, 1800, False),
         "Task": (2, 45000, False), "MultiEdit": (2, 80, True), "NotebookEdit": (1, 70, True)}
LANGUAGES = ("Python", "TypeScript", "Go", "Markdown", "YAML", "Rust", "SQL", "Plain text")
COMMANDS = ("pytest -q", "npm test", "git status", "git diff", "make lint", "go test ./...", "ls -la", "cargo build")
TEAMS = (("platform", "engineering"), ("payments", "engineering"), ("mobile", "engineering"), ("web", "engineering"),
         ("data", "data-science"), ("ml", "data-science"), ("infra", "engineering"), ("support-tools", "support"))
TERMINALS = ("vscode", "vscode", "iTerm.app", "cursor", "tmux", "Apple_Terminal", "WarpTerminal", "ghostty")
ZONES = (-8, -7, -5, -5, -3, 0, 1, 1, 2, 5.5, 8, 9)
PROMPTS = ("fix the failing test in {f}", "add input validation to {f}", "why does {f} time out under load?",
           "refactor {f} to remove the duplicated parsing", "write tests for {f}", "explain what {f} does",
           "rename the config option in {f} and update callers", "add logging around retries in {f}")
FILES = ("src/api/orders.py", "web/src/Cart.tsx", "cmd/server/main.go", "README.md", "deploy/values.yaml",
         "src/billing/invoice.rs", "migrations/0042_add_index.sql", "lib/auth/session.ts")
ERRORS = ((429, "Rate limited"), (500, "Internal server error"), (529, "Overloaded"), (400, "prompt is too long"))
EVENTS_PER_USER_DAY = 11.4  # events per user, calendar day and unit of --prompts-per-day (measured), for --events
LOGS, METRICS, TRACES = "logs", "metrics", "traces"


def kv(key: str, value: Any) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


@dataclass
class User:
    n: int
    rng: random.Random
    email: str = ""
    attrs: list[KeyValue] = field(default_factory=list)  # standard attributes on every record
    resource: list[KeyValue] = field(default_factory=list)
    zone: float = 0
    models: tuple[str, ...] = ()

    @classmethod
    def make(cls, n: int, seed: int) -> User:
        rng = random.Random(f"{seed}-{n}")
        user = cls(n, rng, email=f"dev{n:03d}@example.com", zone=rng.choice(ZONES))
        team, department = TEAMS[rng.randrange(len(TEAMS))]
        user.resource = [kv(k, v) for k, v in (("department", department), ("team", team),
                         ("cost_center", f"cc-{100 + n % 7}"), ("host.arch", "arm64" if n % 3 else "amd64"),
                         ("os.type", "darwin" if n % 4 else "linux"), ("service.name", "claude-code"))]
        uid = hashlib.sha256(user.email.encode()).hexdigest()
        user.attrs = [kv("user.id", uid), kv("user.email", user.email),
                      kv("user.account_uuid", str(random.Random(uid).getrandbits(128))),
                      kv("organization.id", "7f0c1e57-0000-4000-8000-00000000acme"),
                      kv("terminal.type", rng.choice(TERMINALS))]
        names = list(MODELS)
        bias = [MODELS[m][0] * rng.uniform(0.3, 1.7) for m in names]
        user.models = tuple(rng.choices(names, bias, k=20))
        return user


@dataclass
class Requests:
    """One request per signal being filled: a ResourceX per session, like a collector's batch."""

    logs: ExportLogsServiceRequest = field(default_factory=ExportLogsServiceRequest)
    metrics: ExportMetricsServiceRequest = field(default_factory=ExportMetricsServiceRequest)
    traces: ExportTraceServiceRequest = field(default_factory=ExportTraceServiceRequest)
    records: int = 0
    events: int = 0


class Session:
    """One Claude Code session of one user: prompts, requests, tools, errors; its records go into
    the current batch under the session's own resource."""

    def __init__(self, user: User, start_ns: int, batch: Requests, version: str, traced: bool) -> None:
        self.user, self.rng, self.t, self.traced = user, user.rng, start_ns, traced
        a, b, c, d, e = (self.rng.getrandbits(bits) for bits in (32, 16, 12, 12, 48))
        self.id = f"{a:08x}-{b:04x}-4{c:03x}-a{d:03x}-{e:012x}"
        self.std = [*user.attrs, kv("session.id", self.id), kv("app.version", version)]
        resource = [*user.resource, kv("service.version", version)]
        rl = batch.logs.resource_logs.add()
        rl.resource.attributes.extend(resource)
        self.logs = rl.scope_logs.add()
        self.logs.scope.name = "com.anthropic.claude_code.events"
        rm = batch.metrics.resource_metrics.add()
        rm.resource.attributes.extend(resource)
        self.scope_metrics = rm.scope_metrics.add()
        self.scope_metrics.scope.name = "com.anthropic.claude_code"
        self.metrics: dict[str, Any] = {}
        if traced:
            rs = batch.traces.resource_spans.add()
            rs.resource.attributes.extend(resource)
            self.spans = rs.scope_spans.add()
            self.spans.scope.name = "com.anthropic.claude_code.tracing"
        self.batch, self.seq, self.last_export = batch, 0, start_ns
        self.trace_id = self.span_id = b""

    def event(self, name: str, t: int, **attrs: Any) -> None:
        self.seq += 1
        own = [kv("event.name", name), kv("event.timestamp", _iso(t)), kv("event.sequence", self.seq)]
        own += [kv(k, v) for k, v in attrs.items() if v is not None]
        self.logs.log_records.append(LogRecord(
            time_unix_nano=t, observed_time_unix_nano=t, body=AnyValue(string_value="claude_code." + name),
            attributes=[*self.std, *own], trace_id=self.trace_id, span_id=self.span_id))
        self.batch.records += 1
        self.batch.events += 1

    def point(self, name: str, unit: str, value: float, **attrs: Any) -> None:
        metric = self.metrics.get(name)
        if metric is None:
            metric = self.metrics[name] = self.scope_metrics.metrics.add(name=name, unit=unit)
            metric.sum.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
            metric.sum.is_monotonic = True
        metric.sum.data_points.append(NumberDataPoint(
            start_time_unix_nano=self.last_export, time_unix_nano=self.t, as_double=value,
            attributes=[*self.std, *(kv(k, v) for k, v in attrs.items())]))
        self.batch.records += 1

    def span(self, name: str, start: int, end: int, parent: bytes, **attrs: Any) -> bytes:
        span_id = self.rng.getrandbits(64).to_bytes(8, "big")
        self.spans.spans.append(Span(
            trace_id=self.trace_id, span_id=span_id, parent_span_id=parent, name="claude_code." + name,
            kind=Span.SPAN_KIND_INTERNAL, start_time_unix_nano=start, end_time_unix_nano=end,
            attributes=[*self.std, kv("span.type", name), *(kv(k, v) for k, v in attrs.items())]))
        self.batch.records += 1
        return span_id

    def run(self, prompts: int, end_ns: int) -> None:
        self.point("claude_code.session.count", "", 1.0, start_type="fresh")
        for _ in range(prompts):
            if self.t > end_ns - 600 * 10**9:  # the history ends now: no prompt starts later
                break
            self.prompt()
            self.t += int(self.rng.expovariate(1 / 240) * 1e9) + 5_000_000_000

    def prompt(self) -> None:
        rng, start = self.rng, self.t
        if self.traced:
            self.trace_id = rng.getrandbits(128).to_bytes(16, "big")
            self.span_id = rng.getrandbits(64).to_bytes(8, "big")
        prompt_id = f"{rng.getrandbits(128):032x}"
        text = rng.choice(PROMPTS).format(f=rng.choice(FILES))
        self.event("user_prompt", self.t, **{"prompt.id": prompt_id, "prompt": text, "prompt_length": str(len(text))})
        usage: dict[str, list[float]] = {}
        lines = [0, 0]
        rounds = min(int(rng.expovariate(1 / 3.5)) + 1, 25)
        for i in range(rounds):
            self.request(prompt_id, usage, final=i == rounds - 1)
            if i < rounds - 1:
                for _ in range(1 if rng.random() < 0.8 else rng.randint(2, 4)):
                    self.tool(prompt_id, lines)
        self.export(usage, lines, typing_s=rng.uniform(3, 90), working_s=(self.t - start) / 1e9)
        if self.traced:
            self.span("interaction", start, self.t, b"", **{"interaction.sequence": self.seq})
            self.trace_id = self.span_id = b""

    def request(self, prompt_id: str, usage: dict[str, list[float]], final: bool) -> None:
        rng = self.rng
        model = rng.choice(self.user.models)
        share, p_in, p_out, p_read, p_write, latency = MODELS[model]
        for attempt in range(1, 4):
            duration = int(rng.lognormvariate(0, 0.6) * latency)
            if rng.random() > 0.012:
                break
            status, message = rng.choice(ERRORS)
            self.t += duration * 1_000_000
            self.event("api_error", self.t, **{"prompt.id": prompt_id, "model": model, "error": message,
                       "status_code": status, "duration_ms": duration, "attempt": attempt})
            if status == 400:
                return
        tokens = (rng.randint(50, 4000), rng.randint(20, 1500), rng.randint(0, 90000),
                  rng.choice((0, 0, 0, 2000, 12000)))
        cost = (tokens[0] * p_in + tokens[1] * p_out + tokens[2] * p_read + tokens[3] * p_write) / 1e6
        start, self.t = self.t, self.t + duration * 1_000_000
        self.event("api_request", self.t, **{"prompt.id": prompt_id, "model": model, "input_tokens": tokens[0],
                   "output_tokens": tokens[1], "cache_read_tokens": tokens[2], "cache_creation_tokens": tokens[3],
                   "cost_usd": round(cost, 6), "duration_ms": duration, "ttft_ms": duration // 4})
        if final:
            self.event("assistant_response", self.t, **{"prompt.id": prompt_id, "model": model,
                       "response_length": rng.randint(20, 3000)})
        if self.traced:
            self.span("llm_request", start, self.t, self.span_id, model=model, input_tokens=tokens[0],
                      output_tokens=tokens[1], duration_ms=duration, success=True)
        entry = usage.setdefault(model, [0, 0, 0, 0, 0])
        for i, n in enumerate((*tokens, cost)):
            entry[i] += n

    def tool(self, prompt_id: str, lines: list[int]) -> None:
        rng = self.rng
        name = rng.choices(list(TOOLS), [v[0] for v in TOOLS.values()])[0]
        _, median, edits = TOOLS[name]
        command = rng.choice(COMMANDS) if name == "Bash" else None
        params = json.dumps({"bash_command": command.split()[0], "full_command": command}) if command else None
        decision = "reject" if rng.random() < 0.04 else "accept"
        source = "user_reject" if decision == "reject" else rng.choice(("config", "config", "user_temporary"))
        use_id = f"toolu_{rng.getrandbits(96):024x}"
        self.t += int(rng.uniform(0.02, 1.5) * 1e9)
        self.event("tool_decision", self.t, **{"prompt.id": prompt_id, "tool_name": name, "decision": decision,
                   "source": source, "tool_use_id": use_id, "tool_parameters": params})
        language = rng.choice(LANGUAGES)
        if edits:
            self.point("claude_code.code_edit_tool.decision", "", 1.0, tool_name=name, decision=decision,
                       source=source, language=language)
        if decision == "reject":
            return
        duration = max(1, int(rng.lognormvariate(0, 0.8) * median))
        ok = rng.random() > (0.12 if name == "Bash" else 0.02)
        start, self.t = self.t, self.t + duration * 1_000_000
        self.event("tool_result", self.t, **{"prompt.id": prompt_id, "tool_name": name, "success": str(ok).lower(),
                   "duration_ms": str(duration), "tool_use_id": use_id, "tool_parameters": params})
        if self.traced:
            self.span("tool", start, self.t, self.span_id, tool_name=name, duration_ms=duration)
        if edits and ok:
            lines[0] += rng.randint(1, 60)
            lines[1] += rng.randint(0, 25)
        if command == "git status" and rng.random() < 0.3:
            self.point("claude_code.commit.count", "", 1.0)
            if rng.random() < 0.25:
                self.point("claude_code.pull_request.count", "", 1.0)

    def export(self, usage: dict[str, list[float]], lines: list[int], typing_s: float, working_s: float) -> None:
        """The delta export at the end of a prompt: only series that changed."""
        for model, (i, o, r, w, cost) in usage.items():
            for kind, n in (("input", i), ("output", o), ("cacheRead", r), ("cacheCreation", w)):
                self.point("claude_code.token.usage", "tokens", float(n), model=model, type=kind)
            self.point("claude_code.cost.usage", "USD", round(cost, 6), model=model)
        if lines[0] or lines[1]:
            model = next(iter(usage), "claude-sonnet-5-5")
            self.point("claude_code.lines_of_code.count", "", float(lines[0]), type="added", model=model)
            self.point("claude_code.lines_of_code.count", "", float(lines[1]), type="removed", model=model)
        self.point("claude_code.active_time.total", "s", round(typing_s, 3), type="user")
        self.point("claude_code.active_time.total", "s", round(working_s, 3), type="cli")
        self.last_export = self.t


def _iso(t: int) -> str:
    return datetime.fromtimestamp(t / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


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


async def into_database(db: Path, requests: Iterator[tuple[str, bytes, int]], progress: Any) -> int:
    """Through Ingest.export, the very call the receivers make, with a few requests in flight."""
    from ccmonitor.ingest import Ingest
    from ccmonitor.otlp.decode import PROTOBUF
    from ccmonitor.otlp.signals import SIGNALS
    from ccmonitor.store.sqlite import SqliteStore

    store = await asyncio.to_thread(SqliteStore, db, synchronous="NORMAL", queue_max_records=1_000_000)
    ingest = Ingest(store, max_inflight_bytes=1 << 30, commit_timeout_s=600)
    pending: list[asyncio.Task[Any]] = []
    events = 0
    try:
        for signal, body, n in requests:
            pending.append(asyncio.create_task(ingest.export(SIGNALS[signal], body, PROTOBUF, "demo")))
            events += n
            progress(events)
            if len(pending) >= 4:
                await pending.pop(0)
        await asyncio.gather(*pending)
    finally:
        await asyncio.to_thread(store.close)
    return events


def over_http(url: str, requests: Iterator[tuple[str, bytes, int]], progress: Any) -> int:
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
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              help="Write in-process into this database [default: the configured one, CCMONITOR_DB].")
@click.option("--url", help="Send to a running server instead, e.g. http://127.0.0.1:4318 (its OTLP/HTTP port).")
def demo_command(users: int, days: int, prompts_per_day: float, events: int | None, traced_share: float, seed: int,
                 end: str | None, db: Path | None, url: str | None) -> None:
    """Generate a realistic synthetic history through the real ingest path."""
    end_time = datetime.fromisoformat(end.replace("Z", "+00:00")) if end else datetime.now(UTC)
    end_time = end_time if end_time.tzinfo else end_time.replace(tzinfo=UTC)
    if events:
        prompts_per_day = max(0.5, events / (users * days * EVENTS_PER_USER_DAY))
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
        from ccmonitor.config import Config

        target = Config.load({"db": db}).db
        sent = asyncio.run(into_database(target, requests, progress))
        where = str(target)
    took = time.monotonic() - started
    click.echo(f"{sent:,} events from {users} users over {days} days into {where} in {took:.1f}s "
               f"({sent / max(took, 1e-9):,.0f} events/s)")
