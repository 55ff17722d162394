"""Redaction benchmark (run by hand, issue #10): what the secrets corpus catches and what its near misses
keep; what it changes in text nobody wrote the rules against; how fast the catalogue reads text; what
it adds to decoding a record; and ingest through `ccmonitor serve` with `--redact off`, `--redact
default` and `--redact default --hash-emails`, each measured in the same run against the others.

    .venv/bin/python benchmarks/redaction.py [--records 100000] [--clients 16] [--rounds 3] [--no-server]

Records: the real http-protobuf capture's 16 events, cycled and made unique (as benchmarks/ingest.py),
each given a `user.email` (an OAuth login's identity) so hashing has work; and "text-heavy" records:
a user prompt of prose, a Bash tool_result with its tool_parameters, a Write with 3 KB of this
repository's code as tool_input, an assistant response, all without secrets (the common case).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import random
import re
import sqlite3
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import ingest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from ccmonitor.otlp.logs import to_batch
from ccmonitor.redaction import KINDS, Redactor

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "redaction"
MARK = re.compile(r"«([a-z0-9_]+)\|(.*?)»", re.S)
KEY = os.urandom(32)


def best(fn: Callable[[], object], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def corpus_table() -> None:
    """Per kind: secrets planted in tests/data/redaction/secrets and caught (a file whose output is the
    expected one catches all of its secrets; otherwise a kind counts as often as its marker shows); then
    the near misses (false positives) and the known misses."""
    planted: Counter[str] = Counter()
    caught: Counter[str] = Counter()
    for path in sorted((CORPUS / "secrets").iterdir()):
        raw = path.read_text(encoding="utf-8")
        kinds = Counter(m.group(1) for m in MARK.finditer(raw))
        out = Redactor().text(MARK.sub(lambda m: m.group(2), raw), Counter())
        planted += kinds
        if out == MARK.sub(lambda m: f"[REDACTED:{m.group(1)}]", raw):
            caught += kinds
        else:
            caught += Counter({k: min(n, out.count(f"[REDACTED:{k}]")) for k, n in kinds.items()})
    print("\nCorpus: secrets (tests/data/redaction/secrets)")
    print("| kind | planted | caught |\n|---|---:|---:|")
    for kind in KINDS:
        print(f"| {kind} | {planted[kind]} | {caught[kind]} |")
    print(f"| **all** | {sum(planted.values())} | {sum(caught.values())} |")
    print("\nNear misses and known misses (must come out unchanged)")
    print("| file | characters | redactions (false positives) |\n|---|---:|---:|")
    for folder in ("near-misses", "known-misses"):
        for path in sorted((CORPUS / folder).iterdir()):
            text = path.read_text(encoding="utf-8")
            counts: Counter[str] = Counter()
            Redactor().text(text, counts)
            print(f"| {folder}/{path.name} | {len(text):,} | {sum(counts.values())} {dict(counts) or ''} |")


def wild_text() -> None:
    """Text nobody wrote the rules against: the Python standard library and the installed packages
    (code, docstrings, examples), and the printable strings of the pinned Claude Code binary (its
    bundled JavaScript, system prompt and tool descriptions: what an api_request_body carries). Every
    redaction is listed: a false positive, or a credential written into code or docs as an example."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    packages = Path(sysconfig.get_paths()["purelib"])
    paths = sorted(stdlib.glob("*.py")) + sorted(p for p in packages.rglob("*.py") if "ccmonitor" not in p.parts)
    found: list[str] = []
    size = 0
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        size += len(text)
        found += [f"{path.name}: {line}" for line in changes(text)]
    print(f"\nText written by others: {len(paths):,} Python files of the standard library and the installed"
          f" packages, {size / 1e6:.1f} MB: {len(found)} redactions")
    print("\n".join(f"    {line}" for line in found[:40]))
    binary = ROOT / "tests/e2e/node_modules/@anthropic-ai/claude-code-linux-x64/claude"
    if binary.exists():
        strings = "\n".join(m.group().decode() for m in re.finditer(rb"[\x20-\x7e]{12,}", binary.read_bytes()))
        lines = changes(strings[:30_000_000])
        print(f"\nThe Claude Code binary's printable strings, 30 MB: {len(lines)} redactions")
        print("\n".join(f"    {line}" for line in lines[:40]))


def changes(text: str) -> list[str]:
    """Each redaction in `text`, with 50 characters of its context before."""
    out = Redactor().text(text, Counter())
    return [out[max(0, m.start() - 50):m.end()].replace("\n", " ") for m in re.finditer(r"\[REDACTED:\w+\]", out)]


def texts() -> dict[str, str]:
    """Realistic text without secrets, 200 KB each: this repository's prose, code, the captures' JSON."""
    def joined(pattern: str) -> str:
        return "".join(Path(p).read_text(encoding="utf-8") for p in sorted(glob.glob(str(ROOT / pattern),
                                                                                    recursive=True)))[:200_000]
    return {"prose (docs/*.md)": joined("docs/*.md"), "code (src/**/*.py)": joined("src/ccmonitor/**/*.py"),
            "JSON (captures *.json)": joined("tests/data/captures/*/otlp/*.json")}


def text_rates() -> None:
    redactor = Redactor()
    print("\nReading text (no secret in it): ns per character, best of 5")
    for name, text in texts().items():
        seconds = best(lambda t=text: redactor.text(t, Counter()))  # type: ignore[misc]
        print(f"  {name:24s} {1e9 * seconds / len(text):5.1f} ns/char  ({len(text) / seconds / 1e6:5.1f} MB/s)")


def with_email(bodies: list[bytes]) -> list[bytes]:
    out = []
    for n, body in enumerate(bodies):
        request = ExportLogsServiceRequest.FromString(body)
        for record in request.resource_logs[0].scope_logs[0].log_records:
            record.attributes.append(KeyValue(key="user.email"))
            record.attributes[-1].value.string_value = f"Dev{n % 50}@Example.com"
        out.append(request.SerializeToString())
    return out


def text_heavy(n_records: int, per_request: int = 100) -> list[bytes]:
    """Records carrying the text Claude Code sends with prompts and tool details on, without secrets."""
    rnd = random.Random(3)
    prose = texts()["prose (docs/*.md)"]
    code = texts()["code (src/**/*.py)"]
    template = ExportLogsServiceRequest.FromString(ingest.TEMPLATE.read_bytes())
    t0 = 1_795_796_355_000_000_000
    out = []
    for r in range(n_records // per_request):
        request = ExportLogsServiceRequest()
        rl = request.resource_logs.add()
        rl.resource.CopyFrom(template.resource_logs[0].resource)
        sl = rl.scope_logs.add()
        sl.scope.CopyFrom(template.resource_logs[0].scope_logs[0].scope)
        for i in range(per_request):
            n = r * per_request + i
            at = rnd.randrange(len(prose) - 4000)
            kind = n % 4
            attrs: dict[str, object] = {"session.id": f"text-{r // 20}", "user.email": f"dev{n % 50}@example.com",
                                        "event.sequence": n, "prompt.id": f"p-{r}-{i // 10}"}
            if kind == 0:
                attrs |= {"event.name": "user_prompt", "prompt": prose[at:at + rnd.randrange(200, 1200)]}
            elif kind == 1:
                command = f"cd /home/dev/acme-app && git log --oneline -20 -- src/ | grep -i fix | head -{n % 9 + 1}"
                attrs |= {"event.name": "tool_result", "tool_name": "Bash", "success": "true", "duration_ms": "41",
                          "tool_parameters": json.dumps({"bash_command": "cd", "full_command": command,
                                                         "description": prose[at:at + 80]})}
            elif kind == 2:
                attrs |= {"event.name": "tool_result", "tool_name": "Write", "success": "true",
                          "tool_input": json.dumps({"file_path": f"/home/dev/acme-app/src/m{n}.py",
                                                    "content": code[at % 190_000:at % 190_000 + 3000]})}
            else:
                attrs |= {"event.name": "assistant_response", "response": prose[at:at + rnd.randrange(100, 800)]}
            record = sl.log_records.add()
            record.time_unix_nano = record.observed_time_unix_nano = t0 + n * 1_000_000
            record.body.string_value = f"claude_code.{attrs['event.name']}"
            for key, value in attrs.items():
                kv = record.attributes.add(key=key)
                if isinstance(value, int):
                    kv.value.int_value = value
                else:
                    kv.value.string_value = str(value)
        out.append(request.SerializeToString())
    return out


def decode_costs(workloads: dict[str, list[bytes]]) -> None:
    print("\nDecoding (logs.to_batch, one thread): microseconds per record, best of 3")
    variants: dict[str, Redactor | None] = {"off": None, "default": Redactor(),
                                            "default + hash-emails": Redactor(email_key=KEY)}
    for name, bodies in workloads.items():
        messages = [ExportLogsServiceRequest.FromString(b) for b in bodies]
        records = sum(len(m.resource_logs[0].scope_logs[0].log_records) for m in messages)
        chars = sum(len(b) for b in bodies)
        results = {}
        for label, redactor in variants.items():
            seconds = best(lambda r=redactor, ms=messages: [to_batch(m, True, r) for m in ms], 3)  # type: ignore[misc]
            results[label] = 1e6 * seconds / records
        base = results["off"]
        print(f"  {name} ({records:,} records, {chars / records:,.0f} wire bytes each): "
              + ", ".join(f"{label} {us:.1f} us ({us / base - 1:+.0%})" for label, us in results.items()))


def server_runs(bodies: list[bytes], clients: int, rounds: int) -> None:
    print(f"\nIngest through `ccmonitor serve` (SQLite, synchronous=FULL, HTTP/protobuf, {clients} clients,"
          f" {100 * len(bodies):,} records with user.email)")
    variants = (("--redact off", {"redact": "off"}, False), ("--redact default", {}, False),
                ("--redact default --hash-emails", {}, True))
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(rounds):
            for label, options, hashing in variants:
                db = Path(tmp) / f"r{round_}-{len(label)}.db"
                if hashing:
                    os.environ["CCMONITOR_HASH_EMAILS"] = "true"
                try:
                    server = ingest.ServerProcess(db, **options)
                finally:
                    os.environ.pop("CCMONITOR_HASH_EMAILS", None)
                try:
                    cpu = server.cpu_s()
                    result = ingest.run_clients(ingest.http_sender(server.ports["http"]), bodies, clients)
                    cpu = server.cpu_s() - cpu
                    stored = ingest.count(db)
                    print(f"  round {round_ + 1} {label:32s} {stored / result['elapsed']:8,.0f} records/s"
                          f"  server CPU {1e6 * cpu / stored:5.1f} us/record  stored {stored:,}"
                          f"  p50 {result['p50_ms']:.0f} ms  p99 {result['p99_ms']:.0f} ms", flush=True)
                finally:
                    server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3, help="server runs of each variant, interleaved")
    ap.add_argument("--no-server", action="store_true", help="skip the runs through `ccmonitor serve`")
    ap.add_argument("--no-wild", action="store_true", help="skip the false-positive scan of others' text")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
          f" SQLite {sqlite3.sqlite_version}; load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    corpus_table()
    if not args.no_wild:
        wild_text()
    text_rates()
    capture = with_email(ingest.build_requests(args.records))
    decode_costs({"capture events": capture[:200], "text-heavy events": text_heavy(20_000)})
    if not args.no_server:
        server_runs(capture, args.clients, args.rounds)


if __name__ == "__main__":
    sys.exit(main())
