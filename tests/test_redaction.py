"""ccmonitor/redaction.py and redaction_patterns.py on their own (issue #10): the corpus, the patterns
file, e-mail hashing, the counts, and decoding (what is scanned, and dedup keys that do not depend on it).

The corpus (tests/data/redaction/) holds real-format fake secrets where Claude Code puts text (a .env
pasted in a prompt, Bash tool parameters, curl headers, git remotes, error messages, key files, a raw
API request body), each marked `«kind|secret»`: the input is the file without the marks, the expected
output has `[REDACTED:kind]` in their place. Near misses must come out as they went in; known misses
(docs/redaction.md, "what it cannot catch") too, so a change that starts catching one is noticed."""

from __future__ import annotations

import ast
import json
import re
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue, KeyValueList

from capture import ALL, CAPTURES
from ccmonitor.errors import ConfigError
from ccmonitor.otlp import logs, metrics, traces
from ccmonitor.otlp.signals import SIGNALS
from ccmonitor.redaction import CATALOGUE, KINDS, PLAIN_KEYS, Redactor, rules
from ccmonitor.redaction_context import key_kind
from ccmonitor.redaction_patterns import load
from otlp_builders import event_request, kv, sum_request

CORPUS = Path(__file__).parent / "data" / "redaction"
MARK = re.compile(r"«([a-z0-9_]+)\|(.*?)»", re.S)
KEY = b"k" * 32  # the database's secret in production (Store.secret("email-hash"))
GITHUB = "ghp_" + "7" * 12 + "aB3dE5fG7hJ9kL1mN3pQ5rS7"
AWS = "AKIA" + "Q7XG5M2RZ4B8N6P3"


def files(folder: str) -> list[Path]:
    return sorted(p for p in (CORPUS / folder).iterdir() if p.is_file())


def planted(path: Path) -> tuple[str, str, Counter[str]]:
    """(input, expected output, secrets by kind) of a corpus file."""
    raw = path.read_text(encoding="utf-8")
    return (MARK.sub(lambda m: m.group(2), raw), MARK.sub(lambda m: f"[REDACTED:{m.group(1)}]", raw),
            Counter(m.group(1) for m in MARK.finditer(raw)))


def redact(text: str, redactor: Redactor | None = None) -> tuple[str, Counter[str]]:
    counts: Counter[str] = Counter()
    return (redactor or Redactor()).text(text, counts), counts


@pytest.mark.parametrize("path", files("secrets"), ids=lambda p: p.name)
def test_every_planted_secret_is_redacted_and_nothing_else(path: Path) -> None:
    text, expected, kinds = planted(path)
    out, counts = redact(text)
    assert out == expected
    assert counts == kinds


@pytest.mark.parametrize("path", files("near-misses") + files("known-misses"), ids=lambda p: p.name)
def test_near_misses_come_out_as_they_went_in(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not MARK.search(text)
    assert redact(text) == (text, Counter())


def test_every_kind_has_at_least_three_examples_in_the_corpus() -> None:
    total: Counter[str] = Counter()
    for path in files("secrets"):
        total += planted(path)[2]
    assert set(total) == set(KINDS)
    assert {k: n for k, n in total.items() if n < 3} == {}


@pytest.mark.parametrize("path", files("secrets"), ids=lambda p: p.name)
def test_redacted_text_redacts_to_itself(path: Path) -> None:
    once, _ = redact(planted(path)[0])
    assert redact(once) == (once, Counter())


@pytest.mark.parametrize(("text", "expected"), [
    ("password=hunter2", "password=[REDACTED:password]"),
    ("DB_PWD=s3cr3t!", "DB_PWD=[REDACTED:password]"),
    ("PWD=/home/dev/acme-app", "PWD=/home/dev/acme-app"),
    ("OLDPWD=/tmp", "OLDPWD=/tmp"),
    ("bypass=on compass=north", "bypass=on compass=north"),
    ('{"client_secret": "abc123def"}', '{"client_secret": "[REDACTED:secret]"}'),
    ('{\\"token\\": \\"abc123def\\"}', '{\\"token\\": \\"[REDACTED:token]\\"}'),
    ("api_key: 'hunter2'", "api_key: '[REDACTED:api_key]'"),
    ("x-api-key: 0123456789abcdef", "x-api-key: [REDACTED:api_key]"),
    ("token: str", "token: str"),
    ("Token: expired", "Token: expired"),
    ("token = get_token()", "token = get_token()"),
    ("if token == secret:", "if token == secret:"),
    ("password = settings.DB_PASSWORD", "password = settings.DB_PASSWORD"),
    ("f(auth_token=ADMIN)", "f(auth_token=ADMIN)"),
    ("self.token = nextchar", "self.token = nextchar"),
    ("username, password = auth", "username, password = auth"),
    *((code, code) for code in ["PQconnectionNeedsPassword = pq.PQconnectionNeedsPassword"]),
    ("def unix_getpass(prompt='Password: ', stream=None):", "def unix_getpass(prompt='Password: ', stream=None):"),
    ('print("shlex: token=" + repr(self.token))', 'print("shlex: token=" + repr(self.token))'),
    ('auth = "Basic " + base64.b64encode(raw)', 'auth = "Basic " + base64.b64encode(raw)'),
    ('ERROR_ID_TOKEN = "ErrorIdToken"', 'ERROR_ID_TOKEN = "ErrorIdToken"'),
    ('X_API_KEY = "x-api-key"', 'X_API_KEY = "x-api-key"'),
    ("SERVER_AUTH = '1.3.6.1.5.5.7.3.1'", "SERVER_AUTH = '1.3.6.1.5.5.7.3.1'"),
    ('{kind:t?"pass":"refuse"}', '{kind:t?"pass":"refuse"}'),
    ('{auth:"session-jwt",hasToken:n!==null,apiKey:ae?null:Rt.credential}',
     '{auth:"session-jwt",hasToken:n!==null,apiKey:ae?null:Rt.credential}'),
    ("this.passphrase = @undefined, Authorization: e.wireAuthorization??null",
     "this.passphrase = @undefined, Authorization: e.wireAuthorization??null"),
    ('HTTP2_HEADER_AUTHORIZATION: "authorization"', 'HTTP2_HEADER_AUTHORIZATION: "authorization"'),
    ("Authorization:Bearer 0123456789abcdef", "Authorization:Bearer [REDACTED:authorization]"),
    ("DB_PASSWORD=letmein", "DB_PASSWORD=[REDACTED:password]"),
    ("password = 'letmein'", "password = '[REDACTED:password]'"),
    ("password = l3tmein", "password = [REDACTED:password]"),
    ("SENDGRID_API_KEY=SG.aB3dE5fG7hJ9kL1mN3pQ5r.sT7uV9wX1yZ3", "SENDGRID_API_KEY=[REDACTED:api_key]"),
    ("--user bob:Tr0ub4dor", "--user bob:[REDACTED:password]"),
    ("--password hunter2 --verbose", "--password [REDACTED:password] --verbose"),
    ("--auth-token requires it", "--auth-token requires it"),
    ("--token --verbose", "--token --verbose"),
    ("curl -u bob:Tr0ub4dor https://x", "curl -u bob:[REDACTED:password] https://x"),
    ("https://bob:p%40ss@example.com/x", "https://bob:[REDACTED:url_password]@example.com/x"),
    ("https://bob@example.com:8443/x", "https://bob@example.com:8443/x"),
    ("redis://:${REDIS_PASSWORD}@cache:6379", "redis://:${REDIS_PASSWORD}@cache:6379"),
    (f"GITHUB_TOKEN={GITHUB}", "GITHUB_TOKEN=[REDACTED:github]"),
    (f"x{GITHUB}", f"x{GITHUB}"),
    (f"{AWS} {AWS.lower()}", f"[REDACTED:aws_access_key] {AWS.lower()}"),
    ("-----BEGIN RSA PRIVATE KEY-----\n" + "A" * 64 + "\n", "[REDACTED:private_key]"),
    *((code, code) for code in ['if line.startswith("-----BEGIN RSA PRIVATE KEY-----"):']),
], ids=lambda v: v[:40])
def test_assignments_keys_and_values(text: str, expected: str) -> None:
    assert redact(text)[0] == expected


@pytest.mark.parametrize(("key", "kind"), [
    ("DB_PASSWORD", "password"), ("passwd", "password"), ("db.pwd", "password"), ("pwd", None), ("pass", "password"),
    ("bypass", None), ("x-api-key", "api_key"), ("apiKey", "api_key"), ("AWS_SECRET_ACCESS_KEY", "aws_secret"),
    ("SecretAccessKey", "aws_secret"), ("client_secret", "secret"), ("refresh_token", "token"), ("oauth", None),
    ("_auth", "token"), ("input_tokens", None), ("token_type", None), ("Authorization", "authorization"),
    ("password_reset_url", None), ("private_key", "private_key"),
])
def test_key_names_a_secret(key: str, kind: str | None) -> None:
    assert key_kind(key) == kind


def test_every_catalogue_rule_sits_in_a_scanner() -> None:
    redactor = Redactor()
    placed = [rule for scanner in redactor._scanners for rule in scanner.rules.values()]
    assert sorted(map(id, placed)) == sorted(map(id, CATALOGUE))


def test_the_redaction_modules_sit_below_otlp_and_store() -> None:
    src = Path(__file__).parents[1] / "src" / "ccmonitor"
    for name in ("redaction.py", "redaction_patterns.py", "redaction_context.py"):
        tree = ast.parse((src / name).read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not {m for m in imported if m.startswith(("ccmonitor.otlp", "ccmonitor.store", "ccmonitor.web"))}


# --- The patterns file -------------------------------------------------------------------------------

def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "patterns.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_patterns_file_adds_kinds(tmp_path: Path) -> None:
    path = write(tmp_path, "# internal tokens\n\nacme_token   acme_(?:live|test)_[A-Za-z0-9]{24}\n"
                           "employee_id  employee (?P<value>E\\d{6})\n")
    redactor = Redactor(rules(str(path)))
    text = "use acme_live_0123456789abcdefABCDEFGH as employee E123456, not ghp_short"
    out, counts = redact(text, redactor)
    assert out == "use [REDACTED:acme_token] as employee [REDACTED:employee_id], not ghp_short"
    assert counts == {"acme_token": 1, "employee_id": 1}
    assert redact(f"export GITHUB_TOKEN={GITHUB}", redactor)[0] == "export GITHUB_TOKEN=[REDACTED:github]"


@pytest.mark.parametrize(("text", "problem"), [
    ("acme_token acme_(live\n", "line 1: bad regular expression"),
    ("# ok\n\njustonefield\n", "line 3: expected `kind regex`"),
    ("Acme-Token acme_[a-z]+\n", "line 1: expected `kind regex`"),
    ("acme (?P<token>acme_[a-z]+)\n", "line 1: the only named group allowed is `value`"),
    ("acme (?i)acme_[a-z]+\n", "line 1: no backreferences or global flags"),
    ("acme (a)\\1\n", "line 1: no backreferences or global flags"),
    ("acme x*\n", "line 1: the pattern matches an empty text"),
])
def test_a_bad_patterns_file_is_one_line_naming_file_and_line(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and problem in message


def test_off_and_default(tmp_path: Path) -> None:
    assert rules("off") == () and rules("default") == CATALOGUE
    assert Redactor.of(rules("off"), None) is None
    assert Redactor.of(rules("off"), KEY) is not None  # hashing only


# --- E-mail identities -------------------------------------------------------------------------------

def test_an_email_hashes_the_same_in_any_case_and_differs_per_key() -> None:
    redactor = Redactor(email_key=KEY)
    hashed = redactor.email("Alice@Example.com")
    assert re.fullmatch(r"email:[0-9a-f]{16}", hashed)
    assert redactor.email(" alice@example.COM ") == hashed
    assert redactor.email("bob@example.com") != hashed
    assert Redactor(email_key=b"another database").email("alice@example.com") != hashed
    assert redactor.email(hashed) == hashed  # rows copied from a hashed database keep their identity


def test_emails_in_text_are_left_to_the_patterns_file(tmp_path: Path) -> None:
    """--hash-emails hashes the user.email identity; addresses in prompt text stay (git@github.com:...
    remotes and code would break), unless a patterns file names them."""
    prompt = "mail alice@example.com about git@github.com:acme/app.git"
    assert redact(prompt, Redactor(email_key=KEY))[0] == prompt
    path = write(tmp_path, "email [A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}\n")
    assert redact("mail alice@example.com", Redactor(rules(str(path))))[0] == "mail [REDACTED:email]"


# --- Counts ------------------------------------------------------------------------------------------

def test_counts_from_two_decoding_threads_add_up() -> None:
    redactor = Redactor(email_key=KEY)
    text = f"GITHUB_TOKEN={GITHUB} password=hunter2"

    def work() -> None:
        for _ in range(500):
            scrub = redactor.scrub()
            scrub.text(text)
            scrub.identity({"user.email": "alice@example.com"})
            scrub.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert redactor.snapshot() == {"redactions": {"github": 1000, "password": 1000}, "emails_hashed": 1000}


# --- Decoding: what is scanned, and dedup -----------------------------------------------------------------

ENV = f"why does this fail?\nGITHUB_TOKEN={GITHUB}\nDB_PASSWORD=s3cr3t!pw\n"
BASH = json.dumps({"bash_command": "curl", "full_command": f"curl -H 'Authorization: Bearer {GITHUB}' https://x"})
EVENTS = [
    {"event.name": "user_prompt", "session.id": "s1", "prompt": ENV, "prompt_length": len(ENV)},
    {"event.name": "tool_result", "session.id": "s1", "tool_name": "Bash", "tool_parameters": BASH,
     "tool_input": json.dumps({"command": f"aws s3 ls # {AWS}"}), "success": "true"},
    {"event.name": "api_error", "session.id": "s1", "error": "connect postgres://app:pw4db!x@db:5432 failed",
     "status_code": 500, "request_id": "req_" + "a" * 24},
    {"event.name": "user_prompt", "session.id": "s1", "prompt": "<REDACTED>", "prompt_length": 33},
]


def events(redactor: Redactor | None, request: Any = None) -> list[Any]:
    return logs.to_batch(request or event_request(EVENTS, resource={"service.name": "claude-code", "team": "web"}),
                         True, redactor)[0].events


def test_event_text_is_redacted_and_dedup_keys_do_not_change() -> None:
    plain, redacted = events(None), events(Redactor())
    assert [e.dedup_key for e in plain] == [e.dedup_key for e in redacted]
    prompt, tool, error, hidden = redacted
    assert prompt.prompt == "why does this fail?\nGITHUB_TOKEN=[REDACTED:github]\nDB_PASSWORD=[REDACTED:password]\n"
    assert "[REDACTED:github]" in tool.tool_parameters and GITHUB not in tool.tool_parameters
    assert json.loads(tool.custom_attributes)["tool_input"] == '{"command": "aws s3 ls # [REDACTED:aws_access_key]"}'
    assert error.error == "connect postgres://app:[REDACTED:url_password]@db:5432 failed"
    assert json.loads(error.custom_attributes)["request_id"] == "req_" + "a" * 24
    assert hidden.prompt is None and hidden.prompt_length == 33  # Claude Code's own <REDACTED> stays as it was
    assert plain[0].prompt == ENV  # without a redactor: as sent


def test_structured_attributes_are_scanned_and_keys_naming_secrets_redact_their_value() -> None:
    request = event_request([{"event.name": "mcp_tool_call", "session.id": "s1"}])
    record = request.resource_logs[0].scope_logs[0].log_records[0]
    args = KeyValueList(values=[KeyValue(key="password", value=AnyValue(string_value="hunter2")),
                                KeyValue(key="url", value=AnyValue(string_value="https://u:pw1234@h/x")),
                                KeyValue(key="note", value=AnyValue(string_value="true"))])
    record.attributes.append(KeyValue(key="mcp.args", value=AnyValue(kvlist_value=args)))
    record.attributes.append(kv("client_secret", "abc123def456"))
    attrs = json.loads(events(Redactor(), request)[0].custom_attributes)
    assert attrs["mcp.args"] == {"password": "[REDACTED:password]", "url": "https://u:[REDACTED:url_password]@h/x",
                                 "note": "true"}
    assert attrs["client_secret"] == "[REDACTED:secret]"


def test_resource_attributes_are_scanned_once_and_their_attribute_set_follows() -> None:
    resource = {"service.name": "claude-code", "team": "web", "deploy_token": "abc123def456"}
    scrub_events = events(Redactor(), event_request(EVENTS[:2], resource=resource))
    attrs = [json.loads(e.custom_attributes) for e in scrub_events]
    assert {a["deploy_token"] for a in attrs} == {"[REDACTED:token]"}
    plain_set = events(None, event_request(EVENTS[:2], resource=resource))[0].attribute_set
    assert scrub_events[0].attribute_set != plain_set  # the set's JSON holds no secret either


def test_plain_keys_are_not_scanned() -> None:
    """Claude Code's ids and names are not read: PLAIN_KEYS, and only those, go through unscanned."""
    odd = "password=hunter2"
    request = event_request([{"event.name": "api_request", "session.id": "s1", "request_id": odd, "speed": odd,
                              "other": odd}])
    attrs = json.loads(events(Redactor(), request)[0].custom_attributes)
    assert attrs["request_id"] == attrs["speed"] == odd and attrs["other"] == "password=[REDACTED:password]"
    assert {"request_id", "speed", "prompt.id", "event.timestamp"} <= PLAIN_KEYS
    assert not {"prompt", "tool_input", "response", "body", "error", "tool_parameters", "full_command"} & PLAIN_KEYS


def test_span_attributes_events_links_and_status_are_redacted() -> None:
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    span = scope.spans.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="claude_code.tool",
                           start_time_unix_nano=1, end_time_unix_nano=2)
    span.attributes.extend([kv("full_command", f"gh auth login --with-token {GITHUB}"),
                            kv("user.email", "Alice@Example.com"), kv("tool_name", "Bash")])
    span.status.message = "failed: DB_PASSWORD=s3cr3t!pw"
    event = span.events.add(name="tool.output", time_unix_nano=2)
    event.attributes.append(kv("output", f"AWS_ACCESS_KEY_ID={AWS}"))
    link = span.links.add(trace_id=b"\x03" * 16, span_id=b"\x04" * 8)
    link.attributes.append(kv("note", f"token {GITHUB}"))
    plain = traces.to_batch(request, True, None)[0].spans[0]
    redactor = Redactor(email_key=KEY)
    row = traces.to_batch(request, True, redactor)[0].spans[0]
    assert row.dedup_key == plain.dedup_key
    attrs = json.loads(row.custom_attributes)
    assert attrs["full_command"] == "gh auth login --with-token [REDACTED:github]"
    assert attrs["user.email"] == redactor.email("alice@example.com") and attrs["tool_name"] == "Bash"
    assert row.status_message == "failed: DB_PASSWORD=[REDACTED:password]"
    output = "AWS_ACCESS_KEY_ID=[REDACTED:aws_access_key]"
    assert json.loads(row.span_events or "")[0]["attributes"] == {"output": output}
    assert json.loads(row.links or "")[0]["attributes"] == {"note": "token [REDACTED:github]"}
    assert redactor.snapshot() == {"redactions": {"aws_access_key": 1, "github": 2, "password": 1}, "emails_hashed": 1}


def test_metric_identity_is_hashed_like_the_events() -> None:
    redactor = Redactor(email_key=KEY)
    request = sum_request([(1, 2, 5.0)], attrs={"type": "input", "session.id": "s1", "user.email": "ALICE@example.com"})
    point = metrics.to_batch(request, True, redactor)[0].metrics[0]
    event = events(redactor, event_request([{"event.name": "x", "user.email": "alice@example.com"}]))[0]
    assert point.user_email == event.user_email == redactor.email("alice@example.com")
    assert point.dedup_key == metrics.to_batch(request, True, None)[0].metrics[0].dedup_key
    assert point.series_key == metrics.to_batch(request, True, None)[0].metrics[0].series_key


@pytest.mark.parametrize("scenario", ALL)
def test_the_real_captures_hold_no_secret(scenario: str) -> None:
    """Claude Code's own telemetry (the captures' protobuf, `.bin`) comes out of decoding unchanged."""
    redactor = Redactor()
    found = sorted((CAPTURES / scenario / "otlp").glob("[0-9]*-*.bin"))
    decoded = [path for path in found if not path.name.endswith(".wire.bin")]
    assert decoded
    for path in decoded:
        signal = SIGNALS[path.name.split("-")[1]]
        message = signal.request_type.FromString(path.read_bytes())
        assert signal.to_batch(message, True, redactor)[0] == signal.to_batch(message, True, None)[0]
    assert redactor.snapshot()["redactions"] == {}


def test_the_docs_name_every_kind_and_every_attribute_left_unscanned() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "redaction.md").read_text()
    assert not [kind for kind in KINDS if f"`{kind}`" not in doc]
    named = set(re.findall(r"`([a-z_.]+)`", doc)) | {k for k in PLAIN_KEYS if k.startswith("managed_settings.")}
    assert named >= PLAIN_KEYS
