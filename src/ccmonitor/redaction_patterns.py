"""The secrets redacted at ingest that have a form of their own (issue #10): tokens with a known prefix
and private key blocks; and the patterns file of `--redact FILE`. Secrets known by their context
(`password=...`) are redaction_context.py's.

Speed decides the shape. Python's `re` scans fast only for a pattern that starts with one literal
character (about 0.5 ns a character); an alternation of many patterns, a leading `\\b` or a
case-insensitive start costs 10 to 50 times more. So every rule starts with an *anchor*, a character
every match of it holds at a fixed place (`_` of `ghp_`, `-` of `sk-ant-`, `=` of `password=`), and
looks behind for what comes before it. The rules of one anchor become one regex (redaction.py), so a
text is read once per anchor: `-`, `_`, `A`, `J`, `~`, `:`, `=`.

A rule's match is replaced from `back` characters before it (the `ghp` before the anchor `_`; None:
the run of letters and digits before it) to its end; or, when it has a group named `value`, only
that group (a URL keeps its user and host, an assignment its key). Rules with a `check` only find a
candidate (the `=` after a word ending like a keyword) and leave the decision to code: which key,
which value, and whether that value looks like a secret at all (`token = None` does not).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ccmonitor.errors import ConfigError

KIND = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class Hit:
    """The span of a text to replace, and what it is."""
    start: int
    end: int
    kind: str


@dataclass(frozen=True)
class Rule:
    kind: str
    pattern: str  # starts with its anchor, one literal character (unless not `anchored`)
    back: int | None = 0
    # called with (text, where the anchor is, span of the group `value` or None)
    check: Callable[[str, int, tuple[int, int] | None], Hit | None] | None = None
    # a lookahead right after the anchor, shared by the rules of one scanner: most anchors fail it
    # at once (a `_` followed by a short word cannot start a token), before any rule is tried
    guard: str = ""
    anchored: bool = True  # False: a patterns file's rule, any regex, scanned on its own


def _token(kind: str, prefix: str, body: str, *, anchor: str, guard: str = "") -> Rule:
    """A token with a fixed prefix, anchored at one of its characters: the rest of the prefix is
    matched first (a literal fails fast), then the whole prefix is looked behind at, with no letter
    or digit before it."""
    at = prefix.index(anchor)
    after = prefix[at + 1:]
    pattern = (anchor + re.escape(after)
               + f"(?<={re.escape(prefix)})(?<![A-Za-z0-9]{re.escape(prefix)})" + body)
    return Rule(kind, pattern, back=at, guard=guard)


def caseless(word: str) -> str:
    """`key` -> `[kK][eE][yY]`: a class per letter keeps a literal-like first step, which a scoped
    (?i:...) does not."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


# --- Tokens with a known prefix ---------------------------------------------------------------------

_END = r"(?![A-Za-z0-9])"
_DASH_GUARD = r"(?=[A-Za-z0-9_\-]{10})"  # the shortest token body after its `-` is 10 characters
_UNDERSCORE_GUARD = r"(?=[A-Za-z0-9]{20})"
_GITLAB = ("gldt|glrt|glft", "glpat|glcbt|glptt|gloas|glimt", "glsoat|glffct", "glagent")  # by length: a
# lookbehind takes alternatives of one width only
TOKENS: tuple[Rule, ...] = (
    _token("anthropic", "sk-ant-", r"[A-Za-z0-9_\-]{20,}", anchor="-", guard=_DASH_GUARD),
    _token("openai", "sk-", r"(?:(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{20,}|[A-Za-z0-9_\-]{20,}T3BlbkFJ"
           r"[A-Za-z0-9_\-]{20,}|[A-Za-z0-9]{48}(?![A-Za-z0-9_\-]))", anchor="-", guard=_DASH_GUARD),
    Rule("gitlab", "-(?:" + "|".join(f"(?<=(?:{p})-)" for p in _GITLAB) + r")[A-Za-z0-9_\-]{20,}",
         back=None, guard=_DASH_GUARD),
    Rule("slack", r"-(?<=xox[abposre]-)(?<![A-Za-z0-9]xox[abposre]-)[A-Za-z0-9\-]{10,}", back=4, guard=_DASH_GUARD),
    Rule("slack", r"-\d-(?<=xapp-\d-)(?<![A-Za-z0-9]xapp-\d-)[A-Za-z0-9\-]{10,}", back=4, guard=_DASH_GUARD),
    _token("gcp_oauth_secret", "GOCSPX-", r"[A-Za-z0-9_\-]{20,}", anchor="-", guard=_DASH_GUARD),
    _token("pypi", "pypi-AgEIcHlwaS5vcmc", r"[A-Za-z0-9_\-]{40,}", anchor="-", guard=_DASH_GUARD),
    Rule("github", r"_(?<=gh[pousr]_)(?<![A-Za-z0-9]gh[pousr]_)[A-Za-z0-9]{36,255}" + _END, back=3,
         guard=_UNDERSCORE_GUARD),
    _token("github", "github_pat_", r"[A-Za-z0-9_]{50,255}", anchor="_", guard=_UNDERSCORE_GUARD),
    Rule("stripe", r"_(?<=[sr]k_(?:live|test)_)(?<![A-Za-z0-9][sr]k_(?:live|test)_)[A-Za-z0-9]{20,255}", back=7,
         guard=_UNDERSCORE_GUARD),
    _token("stripe", "whsec_", r"[A-Za-z0-9+/=]{24,}", anchor="_", guard=_UNDERSCORE_GUARD),
    _token("npm", "npm_", r"[A-Za-z0-9]{36}" + _END, anchor="_", guard=_UNDERSCORE_GUARD),
    *(_token("aws_access_key", p, r"[A-Z0-9]{16}" + _END, anchor="A")
      for p in ("AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA")),
    _token("gcp_api_key", "AIza", r"[0-9A-Za-z_\-]{35}(?![0-9A-Za-z_\-])", anchor="A"),
    # header.payload[.signature]: both JSON objects, so both start with base64url of `{"`
    _token("jwt", "eyJ", r"[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}(?:\.[A-Za-z0-9_\-]*){1,3}", anchor="J"),
    # Entra ID (Azure AD) client secrets: three characters, a digit, `Q~`, then 31 to 34 more
    Rule("azure_client_secret", r"~(?<=[A-Za-z0-9_.\-]{3}\dQ~)[A-Za-z0-9_.~\-]{31,34}(?![A-Za-z0-9_.~\-])", back=5),
)

# --- Private keys ------------------------------------------------------------------------------------

# The body must start with key material, so code that merely mentions the header is left alone; a
# block whose END was cut off (a truncated body) is redacted to the end of the text.
_NL = r"(?:\s|\\{1,3}[rn])"  # a newline, or `\n` in JSON, or `\\n` in JSON inside JSON
_PEM_REST = (r"[ A-Z0-9]{0,24}PRIVATE KEY(?: BLOCK)?-----" + _NL + r"*"
             r"(?:Proc-Type:[^\n\\]*" + _NL + r"+DEK-Info:[^\n\\]*" + _NL + r"+)?[A-Za-z0-9+/=]{16}"
             r"(?:[\s\S]*?-----END[ A-Z0-9]{0,24}PRIVATE KEY(?: BLOCK)?-----|[\s\S]*)")
_SERVICE_ACCOUNT = "|".join(f"(?<=private_key{re.escape(q)}:{s}{re.escape(q)}-----BEGIN)"
                            for q in ('"', '\\"') for s in ("", " "))
KEYS: tuple[Rule, ...] = (
    # the `private_key` of a GCP service account file (JSON, so its newlines are `\n`)
    Rule("gcp_service_account", f"-----BEGIN(?:{_SERVICE_ACCOUNT})" + _PEM_REST),
    Rule("private_key", "-----BEGIN" + _PEM_REST),
)

# --- The patterns file ------------------------------------------------------------------------------

def load(path: str | Path) -> tuple[Rule, ...]:
    """Rules from a patterns file: one `kind regex` a line (the kind a lower-case name, then spaces,
    then a Python regular expression to the end of the line); `#` starts a comment line; blank lines
    are skipped. A group named `value` limits what is replaced. Any error is one ConfigError line
    naming the file and line."""
    path = Path(path).expanduser()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--redact {path}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
    rules = []
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = stripped.split(None, 1)
        where = f"--redact {path}, line {number}"
        if len(parts) != 2 or not KIND.match(parts[0]):
            raise ConfigError(f"{where}: expected `kind regex` (kind: lower-case letters, digits, _)")
        kind, pattern = parts
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"{where}: bad regular expression: {exc}") from None
        if set(compiled.groupindex) - {"value"}:
            raise ConfigError(f"{where}: the only named group allowed is `value`")
        if re.search(r"\\[1-9]|\(\?P=", pattern) or pattern.startswith("(?") and re.match(r"\(\?[aiLmsux]+\)",
                                                                                              pattern):
            raise ConfigError(f"{where}: no backreferences or global flags; use a scoped flag like (?i:...)")
        if compiled.match(""):
            raise ConfigError(f"{where}: the pattern matches an empty text")
        rules.append(Rule(kind, pattern, anchored=False))
    return tuple(rules)
