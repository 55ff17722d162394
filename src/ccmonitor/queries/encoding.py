"""Query documents as JSON: the one encoding of the API and of `ccmonitor report`.

JSON has no NaN or Infinity, and a sum can still overflow to one: ingest bounds every value
(ccmonitor/bounds.py), but rows stored before that or typed in by hand are read as they are. Such a
number is written as null, which every view already shows as a missing number ("—" in a report's
table, an empty CSV cell), so it never turns into a 500 or a file no JSON parser reads (issue 9).
"""

from __future__ import annotations

import json
import math
from typing import Any


def finite(doc: Any) -> Any:
    """doc with every non-finite float replaced by None (dicts and lists copied, the rest as is)."""
    if isinstance(doc, float):
        return doc if math.isfinite(doc) else None
    if isinstance(doc, dict):
        return {k: finite(v) for k, v in doc.items()}
    if isinstance(doc, list | tuple):
        return [finite(v) for v in doc]
    return doc


def dumps(doc: Any, indent: int | None = None) -> str:
    """Strict JSON text of doc; only a document that has a non-finite number is walked."""
    separators = (",", ":") if indent is None else (",", ": ")
    try:
        return json.dumps(doc, ensure_ascii=False, allow_nan=False, indent=indent, separators=separators)
    except ValueError:
        return json.dumps(finite(doc), ensure_ascii=False, allow_nan=False, indent=indent, separators=separators)
