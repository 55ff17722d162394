"""Secrets redacted before storage, and e-mail identities stored as a keyed hash (issue #10).

Decoding calls this on what Claude Code puts text into (docs/redaction.md lists it): the prompt,
tool_parameters and error columns, every string in custom_attributes (nested values included) except
the attributes Claude Code fills with ids, names and numbers (PLAIN_KEYS), and a span's status message,
event and link attributes. A match becomes `[REDACTED:<kind>]`; an attribute whose own key names a
secret (`password`, `x-api-key`) has its whole value replaced. Dedup keys are computed from the wire
bytes before any of this, so a resend is still recognised, whatever `--redact` says.

The catalogue (redaction_patterns.py: tokens and keys; redaction_context.py: key = value, URLs) is
read once per anchor character; a text without that
character costs one `in` test. Counts are kept per decoded request (Scrub) and added to the totals
under a lock once per request: decoding runs on two threads. Nothing here logs, and no count carries
the text it replaced.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from ccmonitor.credentials import TOKEN_ATTRIBUTE
from ccmonitor.redaction_context import CONTEXT, ENDINGS, key_kind, plausible
from ccmonitor.redaction_patterns import KEYS, TOKENS, Hit, Rule, load
from ccmonitor.telemetry import attribute_set, is_custom

CATALOGUE: tuple[Rule, ...] = KEYS + TOKENS + CONTEXT
# Every kind the catalogue reports: a context rule's kind comes from its key (or a token in its value).
KINDS: tuple[str, ...] = tuple(sorted(
    {r.kind for r in CATALOGUE if r.kind != "assignment"} | {kind for _, kind, _ in ENDINGS} | {"aws_secret"}))

# Tokens and keys first, then the rules of context (key = value, URLs): a value already replaced by
# its token's kind (`GITHUB_TOKEN=ghp_...` is github) is skipped by those. Within one scanner, a value
# found by its context takes the kind of a token inside it (`--token pypi-...` is pypi).
ANCHORS = "-_AJ~:="
EMAIL_KEYS = ("user.email", "resource.user.email")
EMAIL_PREFIX = "email:"
HASHED_EMAIL = re.compile(r"email:[0-9a-f]{16}")
CACHE_SIZE = 4096
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")

# Attributes Claude Code fills with ids, timestamps, names, enumerations and numbers (shared/claude-code
# TELEMETRY.md): not scanned. Everything else that holds a string is.
PLAIN_KEYS = frozenset({
    "event.name", "event.timestamp", "event.sequence", "prompt.id", "session.id", "user.id", "user.email",
    "user.account_uuid", "user.account_id", "organization.id", "terminal.type", "app.version", "app.entrypoint",
    "service.name", "service.version", "os.type", "os.version", "host.arch", "otel.scope.name",
    "otel.scope.version", "anthropic.provider", "request_id", "message.id", "message.uuid", "request_body_id",
    "tool_use_id", "query_source", "query_source_safe", "effort", "speed", "model", "permission_mode",
    "tool_source", "decision_source", "decision_type", "tool_input_size_bytes", "tool_result_size_bytes",
    "body_length", "prompt_length", "response_length", "plugin.name", "plugin.scope", "plugin_id_hash",
    "marketplace.name", "enabled_via", "safe_mode", "span.type", "gen_ai.system", "gen_ai.provider.name",
    "gen_ai.operation.name", "gen_ai.conversation.id", "gen_ai.request.model", "gen_ai.response.model",
    "gen_ai.response.id", "gen_ai.tool.name", "gen_ai.tool.call.id", "tool_name_safe", "bash_command_class",
    "llm_request.context", "parent.source", "stop_reason", "start_type",
    "managed_settings.trigger", "managed_settings.source_behavior", "managed_settings.helper.state",
    "managed_settings.helper.applied",
    TOKEN_ATTRIBUTE,  # the name of the ccmonitor token a record came with, set by the server
})


class _Origin(Protocol):
    """What Scrub.origin changes of an otlp.origin.Origin (this module is below otlp/)."""
    base: dict[str, Any]
    attribute_set: tuple[int, str]


class _Scanner:
    """The rules of one anchor character as one regex (or a patterns file's rules, with no anchor).
    Rules sharing a guard sit behind it once. Each alternative ends in an empty group naming its
    rule: a group around the whole alternative would hide its first character from `re`, which
    tests that before entering an alternative."""

    def __init__(self, anchor: str, rules: Sequence[Rule], first: int) -> None:
        self.anchor = anchor
        self.rules: dict[str, Rule] = {}
        self.value_group: dict[str, str | None] = {}
        guarded: dict[str, list[str]] = {}
        for n, rule in enumerate(rules, first):
            body = rule.pattern[len(anchor):].replace("(?P<value>", f"(?P<v{n}>")
            guarded.setdefault(rule.guard, []).append(f"(?:{body})(?P<r{n}>)")
            self.rules[f"r{n}"] = rule
            self.value_group[f"r{n}"] = f"v{n}" if "(?P<value>" in rule.pattern else None
        parts = [f"{guard}(?:{'|'.join(alternatives)})" if guard else "|".join(alternatives)
                 for guard, alternatives in guarded.items()]
        self.regex = re.compile(re.escape(anchor) + "(?:" + "|".join(parts) + ")")

    def hits(self, text: str, classify: Callable[[str], str | None] | None = None) -> list[Hit]:
        """Where this scanner's rules match. A value found by its context is given the kind of a
        secret recognised inside it (`SAS_TOKEN="?sv=...&sig=..."` is azure_sas), by `classify`."""
        found: list[Hit] = []
        first = self.regex.search(text)  # cheaper than an iterator for the text without any
        if first is None:
            return found
        for m in self.regex.finditer(text, first.start()):
            name = m.lastgroup
            assert name is not None  # every alternative ends in its group r<n>
            rule, value = self.rules[name], self.value_group[name]
            if rule.check is not None:
                hit = rule.check(text, m.start(), m.span(value) if value else None)
                if hit is not None and classify is not None:
                    hit = Hit(hit.start, hit.end, classify(text[hit.start:hit.end]) or hit.kind)
            elif value is not None:
                hit = Hit(m.start(value), m.end(value), rule.kind)
            else:
                hit = Hit(_back(text, m.start(), rule.back), m.end(), rule.kind)
            if hit is not None and (not found or hit.start >= found[-1].end):
                found.append(hit)
        return found


def _back(text: str, start: int, back: int | None) -> int:
    if back is not None:
        return max(0, start - back)
    while start > 0 and text[start - 1] in _ALNUM:
        start -= 1
    return start


def _replace(text: str, hits: list[Hit], counts: Counter[str]) -> str:
    pieces, last = [], 0
    for hit in hits:
        pieces.append(text[last:hit.start])
        pieces.append(f"[REDACTED:{hit.kind}]")
        counts[hit.kind] += 1
        last = hit.end
    pieces.append(text[last:])
    return "".join(pieces)


class Redactor:
    """The catalogue (plus a patterns file's rules), or none (`--redact off`), and the key e-mail
    identities are hashed with (None: they are stored as sent). One per server; thread-safe."""

    def __init__(self, rules: Sequence[Rule] = CATALOGUE, *, email_key: bytes | None = None) -> None:
        self.scanning = bool(rules)
        self.email_key = email_key
        misplaced = [r.kind for r in rules if r.anchored and r.pattern[:1] not in ANCHORS]
        if misplaced:
            raise ValueError(f"rules not starting with an anchor ({ANCHORS}): {', '.join(misplaced)}")
        stages = [(anchor, [r for r in rules if r.anchored and r.pattern[0] == anchor]) for anchor in ANCHORS]
        stages.append(("", [r for r in rules if not r.anchored]))  # a patterns file's: scanned as they are
        scanners, first = [], 0
        for anchor, members in stages:
            if members:
                scanners.append(_Scanner(anchor, members, first))
                first += len(members)
        self._scanners = tuple(scanners)
        # the catalogue's shortest secret in its context (`pass=abcd`); a patterns file's may be shorter
        self._shortest = 1 if stages[-1][1] else 8
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._emails_hashed = 0
        self._hashes: dict[str, str] = {}
        self._key_kinds: dict[str, str | None] = {}

    @classmethod
    def of(cls, rules: Sequence[Rule], email_key: bytes | None) -> Redactor | None:
        """The redactor of `rules` (rules("off" | "default" | FILE)) and `--hash-emails`' key; None
        when neither asks for anything, so decoding skips every step of it."""
        return cls(rules, email_key=email_key) if rules or email_key is not None else None

    def text(self, text: str, counts: Counter[str]) -> str:
        """`text` with every secret replaced, each counted in `counts` by kind."""
        if len(text) < self._shortest:
            return text
        for scanner in self._scanners:
            if scanner.anchor and scanner.anchor not in text:
                continue
            hits = scanner.hits(text, self._classify)
            if hits:
                text = _replace(text, hits, counts)
        return text

    def _classify(self, value: str) -> str | None:
        """The kind of the first secret any rule finds in a value (one level deep), or None."""
        for scanner in self._scanners:
            if not scanner.anchor or scanner.anchor in value:
                hits = scanner.hits(value)
                if hits:
                    return hits[0].kind
        return None

    def key_kind(self, key: str) -> str | None:
        kind = self._key_kinds.get(key, "")
        if kind == "":
            if len(self._key_kinds) >= CACHE_SIZE:
                self._key_kinds.clear()
            kind = self._key_kinds[key] = key_kind(key)
        return kind

    def email(self, address: str) -> str:
        """The keyed hash of an e-mail address: the same for the same address in any case."""
        assert self.email_key is not None
        hashed = self._hashes.get(address)
        if hashed is None:
            if HASHED_EMAIL.fullmatch(address):
                return address  # already hashed (a copy of stored rows sent again)
            digest = hmac.new(self.email_key, address.strip().lower().encode(), hashlib.sha256).hexdigest()
            if len(self._hashes) >= CACHE_SIZE:
                self._hashes.clear()
            hashed = self._hashes[address] = EMAIL_PREFIX + digest[:16]
        return hashed

    def scrub(self) -> Scrub:
        return Scrub(self)

    def add(self, counts: Counter[str], emails: int) -> None:
        with self._lock:
            self._counts.update(counts)
            self._emails_hashed += emails

    def snapshot(self) -> dict[str, Any]:
        """What /stats shows: redactions since start by kind, and e-mail identities hashed."""
        with self._lock:
            return {"redactions": dict(sorted(self._counts.items())), "emails_hashed": self._emails_hashed}


class Scrub:
    """One request's pass: what decoding calls, counting locally; `close` adds the counts. The last
    clean value of each attribute is remembered for the request: Claude Code repeats the resource's
    custom attributes on every record, and most attributes keep their value from record to record."""

    __slots__ = ("_redactor", "_scanning", "_clean", "counts", "emails")

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._scanning = redactor.scanning
        self._clean: dict[str, str] = {}  # attribute -> its last value, found clean
        self.counts: Counter[str] = Counter()
        self.emails = 0

    def text(self, text: str | None) -> str | None:
        if text is None or not self._scanning:
            return text
        return self._redactor.text(text, self.counts)

    def value(self, value: Any) -> Any:
        """A string, or a list / map (OTLP array and kvlist values) with every string in it scanned."""
        if isinstance(value, str):
            return self._redactor.text(value, self.counts)
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            for key, item in value.items():
                value[key] = self._attribute(key, item)
        return value

    def attributes(self, attrs: dict[str, Any]) -> None:
        """Scan a record's attributes in place, but for PLAIN_KEYS and values already found clean for
        the same attribute in this request (the resource's and scope's, scanned once by `origin`)."""
        if not self._scanning:
            return
        clean = self._clean
        for key, value in attrs.items():
            if key in PLAIN_KEYS:
                continue
            kind = value.__class__
            if kind is str:
                if clean.get(key) == value:
                    continue
                scanned = self._attribute(key, value)
                if scanned is value:
                    clean[key] = value
                else:
                    attrs[key] = scanned
            elif kind is list or kind is dict:
                attrs[key] = self._attribute(key, value)

    def _attribute(self, key: str, value: Any) -> Any:
        if isinstance(value, str) and value:
            kind = self._redactor.key_kind(key)
            if kind is not None and plausible(value, quoted=True, strict=False):
                self.counts[kind] += 1
                return f"[REDACTED:{kind}]"
        return self.value(value)

    def origin(self, origin: _Origin) -> None:
        """Scan a resource's and scope's attributes once for all its records; their attribute set
        follows if a custom attribute changed."""
        if not self._scanning:
            return
        before = dict(origin.base)
        self.attributes(origin.base)
        if any(origin.base[k] is not v for k, v in before.items() if is_custom(k)):
            custom = {k: v for k, v in origin.base.items() if is_custom(k)}
            origin.attribute_set = attribute_set(custom)

    def identity(self, attrs: dict[str, Any]) -> None:
        """With --hash-emails, the `user.email` identity as its keyed hash (before it becomes a column)."""
        if self._redactor.email_key is None:
            return
        for key in EMAIL_KEYS:
            value = attrs.get(key)
            if isinstance(value, str) and value:
                attrs[key] = self._redactor.email(value)
                self.emails += 1

    def close(self) -> None:
        if self.counts or self.emails:
            self._redactor.add(self.counts, self.emails)


def rules(redact: str) -> tuple[Rule, ...]:
    """The rules of the `redact` setting: none (off), the catalogue (default), or the catalogue and a
    patterns file's (ConfigError naming the file and line for a bad one)."""
    if redact == "off":
        return ()
    if redact == "default":
        return CATALOGUE
    return CATALOGUE + load(Path(redact))
