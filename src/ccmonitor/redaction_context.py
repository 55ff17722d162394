"""Secrets found by their context (issue #10): the value after a key naming a secret (`DB_PASSWORD=...`,
`"client_secret": "..."`, `--password ...`, `Authorization: Bearer ...`), and the password in a URL.

The scanners (redaction.py) find candidates cheaply: a `=` or `:` after a word whose last letters end a
keyword, a `--` option, a `://`. The code here decides: which key it is (read backwards from the
separator), where its value starts and ends, and whether that value is a secret at all rather than
code or a placeholder (`token = None`, `password = os.environ["X"]`, `"token=" + t`, `${TOKEN}`). Those
judgements are heuristics, tuned on tests/data/redaction and checked on text nobody wrote them against
(benchmarks/redaction.py); docs/redaction.md says what they leave.
"""

from __future__ import annotations

import re

from ccmonitor.redaction_patterns import Hit, Rule, caseless

# Key endings that name a secret: (ending, kind, what must precede it). "word": no letter or digit
# (`pass` but not `bypass`); "sep": one of `_.-` (`db_pwd`, never `PWD=/home/dev`); "": anything.
ENDINGS: tuple[tuple[str, str, str], ...] = (
    ("authorization", "authorization", ""),
    ("passphrase", "password", ""), ("password", "password", ""), ("passwd", "password", ""),
    ("pwd", "password", "sep"), ("pass", "password", "word"),
    *((f"{a}{j}key", kind, "") for a, kind in (("api", "api_key"), ("access", "api_key"), ("secret", "secret"),
                                               ("private", "private_key")) for j in ("", "_", "-")),
    ("secret", "secret", ""), ("token", "token", ""), ("auth", "token", "word"),
)


def _key_ends() -> dict[int, list[str]]:
    """The last characters of every ending, as fixed-width regexes grouped by width (a lookbehind
    must have one width): 5 characters, or the whole ending when shorter, with what precedes it."""
    widths: dict[int, set[str]] = {}
    for ending, _, before in ENDINGS:
        if ending == "authorization" or len(ending) >= 5:
            tail = caseless(ending if ending == "authorization" else ending[-5:])
            width = len(ending) if ending == "authorization" else 5
        elif before == "sep":
            tail, width = "[_.\\-]" + caseless(ending), len(ending) + 1
        else:
            tail, width = caseless(ending), len(ending)
        widths.setdefault(width, set()).add(tail)
    return {w: sorted(t) for w, t in sorted(widths.items())}


_KEY_ENDS = _key_ends()


def _after_key(end: str) -> str:
    """Lookbehinds that hold where a key naming a secret ends, followed by the literal `end`."""
    return "|".join(f"(?<=(?:{'|'.join(tails)}){re.escape(end)})" for tails in _KEY_ENDS.values())


def key_kind(key: str) -> str | None:
    """The kind of secret a key names (`DB_PASSWORD` -> password, `x-api-key` -> api_key), or None."""
    k = key.lower()
    for ending, kind, before in ENDINGS:
        if k.endswith(ending):
            prev = k[-len(ending) - 1] if len(k) > len(ending) else ""
            if before == "word" and prev.isalnum() or before == "sep" and prev not in ("_", ".", "-"):
                continue
            if kind in ("secret", "api_key") and "secret" in k and ("access" in k or "aws" in k):
                return "aws_secret"  # aws_secret_access_key, SecretAccessKey (sts output)
            return kind
    return None


def _candidates(separator: str, tails: tuple[str, ...]) -> str:
    """A separator after a word ending like a keyword, any case, and one of `tails` (the closing quote
    of a quoted key, a space). Cheap tests come first, as JSON has a `":` every few words: the
    character before the separator, then a class for each of the key's last two letters; the exact
    check of key and value is code's (`assignment`)."""
    second = "".join(sorted({ending[-2] for ending, _, _ in ENDINGS}))
    last = "".join(sorted({ending[-1] for ending, _, _ in ENDINGS}))
    pair = f"[{second}{second.upper()}][{last}{last.upper()}]"
    by_char: dict[str, list[str]] = {}
    for tail in tails:
        end = re.escape(tail + separator)
        by_char.setdefault(tail[-1:], []).append(f"(?<={pair}{end})(?:{_after_key(tail + separator)})")
    alternatives = [(f"(?<={re.escape(char + separator)})" if char else "") + f"(?:{'|'.join(checks)})"
                    for char, checks in by_char.items()]
    return re.escape(separator) + "(?:" + "|".join(alternatives) + ")"


# What may stand between a key and its separator: nothing (`k=v`, `k: v`), the quote that closes
# a quoted key (`"k": "v"`, and `\"k\": \"v\"` in JSON inside a JSON string), a space (`k = v`).
_COLON_TAILS = ("", '"', '\\"', "'", " ")
_EQUALS_TAILS = ("", " ", '"')
_OPENING = re.compile(r"[ \t]*(?:\\{0,3}(?P<quote>[\"']))?")
_VALUES = {
    '"': re.compile(r"[^\"\\\r\n]{1,4096}"),
    "'": re.compile(r"[^'\\\r\n]{1,4096}"),
    None: re.compile(r"[^\s\"'`\\,;<>(){}\[\]|]{1,4096}"),
    "?": re.compile(r"[^\s\"'`\\,;&<>(){}\[\]|#]{1,4096}"),  # in a URL's query, `&` ends it
}
# read backwards from a separator: the tail, the key, its opening quote and the character before it
_KEY_REVERSED = re.compile(r"[ \t]?(?P<quote>[\"']\\{0,3})?(?P<key>[A-Za-z0-9_.\-]{1,100})"
                           r"(?:[\"']\\{0,3})?(?P<before>.?)")
_SCHEME = re.compile(r"(?i:bearer|basic|token|bot|apikey|key)(?:[ \t]+|%20)")
_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_]*(?:\.[A-Za-z_$][A-Za-z0-9_]*)*")
_PLAIN_VALUES = frozenset({
    "null", "none", "nil", "true", "false", "undefined", "yes", "no", "on", "off", "required", "optional",
    "str", "string", "int", "bool", "boolean", "bytes", "number", "any", "object", "secret", "password",
    "passwd", "pass", "pwd", "token", "auth", "key", "user", "username", "redacted", "hidden", "masked",
    "example", "changeme", "env", "environ", "passphrase", "credential", "credentials", "typeof", "void",
    "this", "self", "new", "await", "function", "return",
})
_PLACEHOLDER_WORDS = ("...", "xxxx", "****", "your", "example", "placeholder", "changeme", "redacted")
_SYMBOLS = frozenset("!@#$%^&*+=/~?0123456789")
_DIGITS = frozenset("0123456789")
_CODE_SYMBOLS = frozenset(",()=;+")
_VERSION = re.compile(r"\d+(?:\.\d+)+")  # 1.3.6.1.5.5.7.3.1, 10.0.3.7, 2.1.332
_SEPARATORS = str.maketrans("", "", "_-. ")
_OPERATORS = ("?.", "??", "!=", "==", "=>", "&&", "||")  # an expression, not a value (JS, Python, shell)


def plausible(value: str, *, quoted: bool, strict: bool) -> bool:
    """Whether a value after a secret's key looks like the secret itself, rather than a placeholder
    (`${TOKEN}`, `<password>`, `***`, `your-key-here`, `sk_test_...`, an already redacted value), a
    path, a type, a version or address, or a word.
    `strict` (unquoted after `:` or a space, where prose and type annotations live: `Token: expired`,
    `token: str`, `--auth-token requires it`): it must also hold a digit or a symbol, or be 16
    characters or more."""
    low = value.lower()
    if len(value) < (3 if quoted else 4) or value[0] in "$<{%[*#/~.@" or low in _PLAIN_VALUES:
        return False
    if any(word in low for word in _PLACEHOLDER_WORDS) or _VERSION.fullmatch(value):
        return False
    return quoted or not strict or len(value) >= 16 or bool(_SYMBOLS.intersection(value))


def _code(text: str, value: str, end: int, key: str, *, spaced: bool) -> bool:
    """An unquoted value that is code, not a secret: a call or subscript (`getpass()`,
    `os.environ["X"]`), an expression (`a ?? b`), a name holding the key's own word
    (`token=access_token`, `private_key: rsa.RSAPrivateKey`), a dotted name without a digit
    (`settings.SECRET_KEY`), or a name without a digit assigned with spaces or passed as an argument
    (`self.token = nextchar`, `f(auth_token=ADMIN)`): `DB_PASSWORD=letmein` in a .env stays a secret,
    `password = letmein` in an INI file is taken for code (docs/redaction.md)."""
    after = text[end:end + 1]
    if after and after in "([" or any(op in value for op in _OPERATORS) or "?" in value and ":" in value:
        return True
    if not _IDENTIFIER.fullmatch(value):
        return False
    if key.translate(_SEPARATORS)[-5:] in value.translate(_SEPARATORS).lower():
        return True  # token=access_token, private_key: rsa.RSAPrivateKey
    if "." in value:  # settings.SECRET_KEY; not SendGrid's SG.<random>.<random>
        return not _DIGITS.intersection(value)
    return not _DIGITS.intersection(value) and (spaced or after in (")", ","))


def _quoted_code(text: str, value: str, end: int, key: str) -> bool:
    """A quoted value that is code, not a secret: a string being built (`"token=" + repr(t)`,
    `"Basic " + b64`, `"token=%s" % t`), the rest of a call after a string that ended with the key
    (`prompt='Password: ', stream=None)`), or a constant naming itself (`ERROR_ID_TOKEN =
    "ErrorIdToken"`, `X_API_KEY = "x-api-key"`, `_SEND_MESSAGE_TOKEN = "send_message"`)."""
    rest = text[end + 1:end + 4].lstrip()
    if rest[:1] in ("+", "%") or rest.startswith(".f"):
        return True
    if _CODE_SYMBOLS.intersection(value) and any(c.isspace() for c in value):
        return True
    name = value.translate(_SEPARATORS).lower()
    return len(name) >= 4 and name in key.translate(_SEPARATORS).lower()


def _value(text: str, start: int, *, authorization: bool = False, query: bool = False) -> tuple[int, int, bool] | None:
    """(start, end, quoted) of the value at `start`: up to its closing quote, or a run without
    spaces, quotes and the characters that end a value in code and shells (and `&` in a URL's
    `query`). An Authorization value starts after its scheme (`Bearer `)."""
    opening = _OPENING.match(text, start)
    assert opening is not None  # it matches the empty string
    quote, begin = opening.group("quote"), opening.end()
    if authorization:
        scheme = _SCHEME.match(text, begin)
        begin = scheme.end() if scheme else begin
    found = _VALUES["?" if query and quote is None else quote].match(text, begin)
    return None if found is None else (found.start(), found.end(), quote is not None)


def assignment(text: str, at: int, _value_span: tuple[int, int] | None) -> Hit | None:
    """A `=` or `:` after a word ending like a keyword: `key=value`, `key: value`, `"key": "value"`,
    `export KEY=value`, `--flag=value`, `Authorization: Bearer value`; only the value is replaced."""
    sep = text[at]
    if text[at + 1: at + 2] in ("=", ">", ":", "/") or sep == "=" and text[at - 1: at] in "=!<>:+-":
        return None  # ==, =>, ::, ://, !=, <=, :=, +=
    reversed_key = _KEY_REVERSED.match(text[max(0, at - 106): at][::-1])
    if reversed_key is None:
        return None
    key = reversed_key.group("key")[::-1].lstrip("-.").lower()
    kind = key_kind(key)
    before, key_quoted = reversed_key.group("before"), reversed_key.group("quote") is not None
    if kind is None or key_quoted and before == "?":
        return None  # t?"pass":"refuse" is a conditional, not a key
    if sep == ":" and not key_quoted and text[at + 1: at + 2] not in (" ", "\t") and kind != "authorization":
        return None  # auth:"session-jwt", hasToken:n!==null: minified code; YAML and headers put a space
    found = _value(text, at + 1, authorization=kind == "authorization", query=before in ("?", "&"))
    if found is None:
        return None
    begin, end, quoted = found
    value = text[begin:end]
    strict = not quoted and (sep == ":" or key == "auth" or kind == "authorization")
    if not plausible(value, quoted=quoted, strict=strict):
        return None
    spaced = text[at - 1: at] == " " or text[at + 1: at + 2] == " "
    if _quoted_code(text, value, end, key) if quoted else _code(text, value, end, key, spaced=spaced):
        return None
    return Hit(begin, end, kind)


_FLAG = re.compile(r"-?(?P<name>[A-Za-z][A-Za-z0-9_\-]{0,40})[ \t]+")
_USER_PASSWORD = re.compile(r"[^\s:\"'`@]{1,100}:(?P<value>[^\s\"'`@]{1,200})")


def flag(text: str, at: int, _value_span: tuple[int, int] | None) -> Hit | None:
    """A command-line option naming a secret, and its value after a space: `--password v`,
    `--api-key "v"` (`--password=v` is an assignment); and curl's `-u user:password` /
    `--user user:password`, whose password only is replaced."""
    found = _FLAG.match(text, at + 1)
    if found is None:
        return None
    name = found.group("name").lower()
    if name in ("u", "user"):
        pair = _USER_PASSWORD.match(text, found.end())
        if pair is None or not plausible(pair.group("value"), quoted=True, strict=False):
            return None
        return Hit(pair.start("value"), pair.end("value"), "password")
    kind = key_kind(name)
    value = _value(text, found.end()) if kind not in (None, "authorization") else None
    if kind is None or value is None:
        return None
    begin, end, quoted = value
    if text[begin] == "-" or not plausible(text[begin:end], quoted=quoted, strict=True):
        return None
    return Hit(begin, end, kind)


def url_password(text: str, _at: int, value: tuple[int, int] | None) -> Hit | None:
    """`scheme://user:password@host`: the user and host stay, the password goes."""
    assert value is not None
    if not plausible(text[value[0]:value[1]], quoted=True, strict=False):
        return None
    return Hit(value[0], value[1], "url_password")


CONTEXT: tuple[Rule, ...] = (
    # `--password value` and curl's `-u user:password` (`--password=value` is an assignment)
    Rule("password", r"--(?<![A-Za-z0-9\-]--)[A-Za-z][A-Za-z0-9_\-]{0,40} (?:" + _after_key(" ")
         + r"|(?<=--user ))", check=flag),
    Rule("password", r"-u[ \t](?<![A-Za-z0-9\-]-u[ \t])", check=flag),
    Rule("url_password", r"://(?<=[A-Za-z0-9]://)[^\s/:@\"'<>\\]{0,200}:(?P<value>[^\s/@\"'<>\\]{1,200})@",
         check=url_password),
    Rule("slack_webhook", r"://hooks\.slack\.com/(?:services|workflows|triggers)/(?P<value>[A-Za-z0-9/_\-]{16,})"),
    Rule("azure_storage_key", r"=(?<=(?i:accountkey)=)(?P<value>[A-Za-z0-9+/]{40,}={0,2})"),
    Rule("azure_storage_key", r"=(?<=(?i:sharedaccesskey)=)(?P<value>[A-Za-z0-9+/]{40,}={0,2})"),
    Rule("azure_sas", r"=(?<=[?&;]sig=)(?P<value>[A-Za-z0-9%+/=]{20,})"),
    Rule("assignment", _candidates(":", _COLON_TAILS), check=assignment),
    Rule("assignment", _candidates("=", _EQUALS_TAILS), check=assignment),
)
