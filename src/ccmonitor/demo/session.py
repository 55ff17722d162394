"""One Claude Code session as OTLP records: its prompts, API requests (with errors and retries), tool
decisions and results, the delta metric export at the end of each prompt, and beta-tracing spans for
some sessions; shaped like the real client's (shared/claude-code/TELEMETRY.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, NumberDataPoint
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from ccmonitor.demo.catalog import COMMANDS, ERRORS, FILES, LANGUAGES, MODELS, PROMPTS, TOOLS, User, kv


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

