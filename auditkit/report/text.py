"""How reports print values: percentage points, ratios, settings lines, and user strings made inert in markdown."""

from __future__ import annotations

import re


def settings_line(settings: dict) -> str:
    """'mode amortized, preset lite, ...' for reports."""
    return ", ".join(f"{k} {v}" for k, v in settings.items() if v is not None)


def pct(value: float | None, digits: int = 1) -> str:
    """A fraction as percentage points ('n/a' for missing or NaN; never '-0')."""
    if value is None or value != value:
        return "n/a"
    text = f"{100 * value:.{digits}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


# CommonMark's backslash escapes, for what can start markup inside a line: emphasis, code, links, table cells,
# strikethrough always; '<' only before what opens a tag or autolink, '&' only before what forms an entity (so a
# plain-text reader of summary.md sees "p < 0.001", not an escape). Line starts are never user text here.
MD_SPECIAL = re.compile(r"[\\`*_\[\]|~]|<(?=[A-Za-z/!?])|&(?=[A-Za-z#])")


def md(value: object) -> str:
    """A user string (group, subject, column, plugin name) made inert in markdown: no HTML, no table or code breaks."""
    text = str(value).replace("\r", " ").replace("\n", " ")
    return MD_SPECIAL.sub(lambda m: "\\" + m.group(0), text)


def num(value: float | None, digits: int = 2) -> str:
    """A number to `digits` decimals ('n/a' for missing or NaN)."""
    return "n/a" if value is None or (isinstance(value, float) and value != value) else f"{value:.{digits}f}"


def signed(value: float | None) -> str:
    """A fraction as signed percentage points, '+3.2' ('n/a' for missing or NaN)."""
    return "n/a" if value is None or value != value else f"{100 * value:+.1f}"
