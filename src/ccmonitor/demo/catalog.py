"""Who and what the synthetic history is made of: models with prices and latencies, tools with their
shares and durations, teams, terminals, time zones, prompt and file templates, and the users."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

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
EVENTS_PER_USER_DAY = 10.3  # events per user, calendar day and unit of --prompts-per-day (measured), for --events
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


