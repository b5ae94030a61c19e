"""Turning plugin-provided values into things that are safe to put on a page.

Escaping itself is jinja2's job (autoescaping is on for every template); this module decides which
strings may become links, and how numbers are displayed and sorted (deterministically).
"""
from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import urlsplit

_SAFE_SCHEMES = ("http", "https")
_BAD_URL_CHARS = re.compile(r"[\x00-\x20\x7f<>\"'`\\]")


def safe_url(value: Any) -> str | None:
    """``value`` if it is an absolute http(s) URL with a host, else ``None`` (rendered as plain text).

    Anything else -- ``javascript:``, ``data:``, relative paths, URLs with whitespace, quotes or
    control characters -- is refused, so that no plugin string can become an active link.
    """
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not url or len(url) > 2000 or _BAD_URL_CHARS.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in _SAFE_SCHEMES or not parts.netloc:
        return None
    return url


def _tidy(s: str) -> str:
    # "-0.00" and friends: one spelling of zero, whatever the float's sign bit.
    if s.startswith("-") and not any(ch in "123456789" for ch in s.split("e")[0]):
        return s[1:]
    return s


def fmt_number(v: float | None, unit: str = "") -> str:
    """Deterministic display form of a metric value; a dash for missing values (never 0)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if isinstance(v, int) or (unit in ("count", "points") and float(v).is_integer() and abs(v) < 1e15):
        return str(int(v))
    if unit == "%":
        return _tidy(f"{v:.2f}")
    a = abs(v)
    if a == 0:
        return "0"
    if a >= 1000:
        return _tidy(f"{v:.0f}")
    if a >= 100:
        return _tidy(f"{v:.1f}")
    if a >= 1:
        return _tidy(f"{v:.2f}")
    if a >= 0.01:
        return _tidy(f"{v:.3f}")
    return _tidy(f"{v:.2e}")


def sort_key(v: float | None) -> str:
    """The value the page's sorter reads (``data-sort``): shortest round-trip repr, "" when missing."""
    if v is None:
        return ""
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return repr(float(v))


def fmt_seconds(v: float | None) -> str:
    """A duration for the provenance tables: "12.5 s", "0.03 s", "<0.01 s"; a dash when missing."""
    if v is None or not math.isfinite(v):
        return "–"
    if v == 0:
        return "0 s"
    if abs(v) < 0.01:
        return "<0.01 s"
    if abs(v) >= 100:
        return f"{v:.0f} s"
    return f"{v:.2f} s" if abs(v) < 10 else f"{v:.1f} s"
