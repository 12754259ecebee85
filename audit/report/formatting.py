"""Number formatting for the report's templates (Jinja2 filters).

Filters turn numbers into digits and symbols only; every word of the report
is in the templates. Each filter returns ``""`` for a missing value (None or
NaN) so a template can test ``value is none`` first and word the gap itself.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

#: Significant digits of rates and ratios in prose and tables.
SIGNIFICANT = 2


def _missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _decimals(x: float, significant: int) -> int:
    """Decimals that show ``significant`` digits of ``x`` (``x > 0``), after rounding.

    >>> _decimals(0.00999, 2), _decimals(0.0123, 2)
    (3, 3)
    """
    decimals = significant - 1 - math.floor(math.log10(abs(x)))
    rounded = round(abs(x), decimals)
    if rounded and math.floor(math.log10(rounded)) > math.floor(math.log10(abs(x))):
        decimals -= 1  # 0.00999 rounds to 0.010: one decimal fewer keeps two digits
    return max(0, decimals)


def percent(x: float | None, significant: int = SIGNIFICANT) -> str:
    """A rate in [0, 1] as a percentage with ``significant`` digits.

    A share just below 100% keeps enough digits not to read as 100%.

    >>> percent(0.0061), percent(0.07), percent(0.000101), percent(0.0), percent(1.0)
    ('0.61%', '7.0%', '0.010%', '0%', '100%')
    >>> percent(0.0000999), percent(0.9997), percent(0.996)
    ('0.010%', '99.97%', '99.6%')
    """
    if _missing(x):
        return ""
    value = float(x) * 100
    if value == 0:
        return "0%"
    if value >= 100:
        return f"{value:.0f}%"
    decimals = min(_decimals(value, significant), 6)
    while decimals < 6 and round(value, decimals) >= 100:
        decimals += 1
    return f"{value:.{decimals}f}%"


def points(x: float | None, significant: int = SIGNIFICANT) -> str:
    """A difference of two rates in percentage points (digits only).

    >>> points(0.00529)
    '0.53'
    """
    if _missing(x):
        return ""
    value = float(x) * 100
    if value == 0:
        return "0"
    return f"{value:.{min(_decimals(value, significant), 6)}f}"


def ratio(x: float | None, significant: int = SIGNIFICANT) -> str:
    """A ratio with ``significant`` digits, never in scientific notation; inf as "∞".

    >>> ratio(2.1345), ratio(17.9), ratio(0.123), ratio(float("inf"))
    ('2.1', '18', '0.12', '∞')
    """
    if _missing(x):
        return ""
    value = float(x)
    if math.isinf(value):
        return "∞"
    if value == 0:
        return "0"
    return f"{value:.{_decimals(value, significant)}f}"


def ratio_end(x: float | None, significant: int = SIGNIFICANT) -> str:
    """An interval end of a ratio: as :func:`ratio`, with more digits when rounding
    would print an end that is not 1 as "1.0" (so "excludes 1" stays visible).

    >>> ratio_end(1.0032), ratio_end(0.996), ratio_end(1.4), ratio_end(1.0)
    ('1.003', '0.996', '1.4', '1.0')
    """
    text = ratio(x, significant)
    if not text or text in ("∞", "0") or float(x) == 1.0:
        return text
    value, digits = float(x), significant
    while float(text) == 1.0 and digits < 8:
        digits += 1
        text = ratio(value, digits)
    return text


def threshold(x: float | None) -> str:
    """A similarity threshold: two decimals, three when two would round it.

    >>> threshold(0.6), threshold(0.645256), threshold(0.5)
    ('0.60', '0.645', '0.50')
    """
    if _missing(x):
        return ""
    value = float(x)
    if abs(value - round(value, 2)) < 1e-9:
        return f"{value:.2f}"
    return f"{value:.3f}"


def exact_threshold(x: float | None) -> str:
    """A threshold to copy into a deployment: every digit (the shortest text that reads back
    as the same number), so that it gives the rates measured at it.

    >>> exact_threshold(0.7034200000000002), exact_threshold(0.5)
    ('0.7034200000000002', '0.5')
    """
    if _missing(x):
        return ""
    return repr(float(x))


def count(x: float | int | None) -> str:
    """An integer with thousands separators.

    >>> count(19956), count(3.0)
    ('19,956', '3')
    """
    if _missing(x):
        return ""
    return f"{int(round(float(x))):,}"


def rounded(x: float | None, significant: int = SIGNIFICANT) -> str:
    """An expected count rounded to ``significant`` digits, with separators.

    >>> rounded(16.66), rounded(5988.0), rounded(0.4), rounded(0.0)
    ('17', '6,000', '0.4', '0')
    """
    if _missing(x):
        return ""
    value = float(x)
    if math.isinf(value):
        return "∞"
    if value == 0:
        return "0"
    digits = significant - 1 - math.floor(math.log10(abs(value)))
    value = round(value, digits)
    if digits > 0:
        return f"{value:,.{digits}f}".rstrip("0").rstrip(".")
    return f"{int(value):,}"


def one_in(x: float | None, significant: int = SIGNIFICANT) -> str:
    """N of "1 in N" for a rate, rounded to ``significant`` digits; "" for 0.

    >>> one_in(1 / 6000), one_in(0.0061), one_in(0.5)
    ('6,000', '160', '2')
    """
    if _missing(x) or float(x) <= 0:
        return ""
    return rounded(1.0 / float(x), significant)


def pvalue(p: float | None, alpha: float | None = None) -> str:
    """A p-value: two decimals from 0.1, two significant digits below, "< 0.001" at the end.

    With ``alpha``, a p-value below it is never rounded up to it (0.0499 is
    "0.0499", not "0.050"), so the printed value agrees with the verdict.

    >>> pvalue(0.0312), pvalue(0.0203), pvalue(0.6), pvalue(0.0042), pvalue(1e-7), pvalue(1.0)
    ('0.031', '0.020', '0.60', '0.0042', '< 0.001', '1.00')
    >>> pvalue(0.0499), pvalue(0.0499, 0.05)
    ('0.050', '0.0499')
    """
    if _missing(p):
        return ""
    value = float(p)
    if value < 0.001:
        return "< 0.001"
    if value >= 0.995:
        return "1.00"
    decimals = 2 if value >= 0.1 else _decimals(value, 2)
    text = f"{value:.{decimals}f}"
    while alpha is not None and value < alpha <= float(text) and decimals < 8:
        decimals += 1
        text = f"{value:.{decimals}f}"
    return text


def confidence(level: float) -> str:
    """A confidence level as a percentage: 0.95 -> "95%".

    >>> confidence(0.95), confidence(0.9)
    ('95%', '90%')
    """
    return f"{float(level) * 100:g}%"


def exact_percent(x: float | None) -> str:
    """A round share as written in a spec: 0.05 -> "5%", 0.001 -> "0.1%".

    >>> exact_percent(0.05), exact_percent(0.001), exact_percent(0.0025)
    ('5%', '0.1%', '0.25%')
    """
    if _missing(x):
        return ""
    return f"{float(x) * 100:.6g}%"


def plural(n: float | int | None, noun: str, many: str | None = None) -> str:
    """A count and its noun, singular for exactly one: "1 subject", "1,200 subjects".

    >>> plural(1, "subject"), plural(1200, "subject"), plural(2, "person", "people")
    ('1 subject', '1,200 subjects', '2 people')
    """
    if _missing(n):
        return ""
    word = noun if int(round(float(n))) == 1 else (many or noun + "s")
    return f"{count(n)} {word}"


def interval(low: float | None, high: float | None, kind: str = "percent") -> str:
    """An interval in the report's one notation, "low to high" (a dash would read as
    a minus beside negative differences); ``kind`` names the filter of the ends:
    ``percent``, ``points``, ``ratio_end``, ``threshold``, ``rounded``.

    >>> interval(0.003, 0.0058), interval(-0.0012, 0.003, "points"), interval(1.026, 3.1, "ratio_end")
    ('0.30% to 0.58%', '-0.12 to 0.30', '1.03 to 3.1')
    """
    if _missing(low) or _missing(high):
        return ""
    end = FILTERS[kind]
    return f"{end(low)} to {end(high)}"


_BAND = (
    (re.compile(r"^<\s*(\d[\d.]*)\s*(.*)$"), r"under \1 \2"),
    (re.compile(r"^>=\s*(\d[\d.]*)\s*(.*)$"), r"\1 \2 or more"),
    (re.compile(r"^(\d[\d.]*)\s*-\s*(\d[\d.]*)\s*(.*)$"), r"\1 to \2 \3"),
)


def group(label: object) -> str:
    """A group label as the report prints it: band labels in words, the rest as given.

    Condition bands are written ``<60 px``, ``60-120 px``, ``>=120 px`` in the
    metrics table; the report says "under 60 px", "60 to 120 px", "120 px or
    more", so no symbol needs explaining and no dash reads as a minus.

    >>> group("<60 px"), group("60-120 px"), group(">=120 px"), group("female x black")
    ('under 60 px', '60 to 120 px', '120 px or more', 'female x black')
    """
    text = str(label)
    for pattern, words in _BAND:
        if pattern.match(text):
            return re.sub(r"\s+", " ", pattern.sub(words, text)).strip()
    return text


def capitalize_first(text: object) -> str:
    """The text with its first letter upper case and the rest left alone.

    >>> capitalize_first("about 170,000 people in Cardiff")
    'About 170,000 people in Cardiff'
    """
    text = str(text)
    return text[:1].upper() + text[1:]


FILTERS: dict[str, Callable[..., str]] = {
    "percent": percent,
    "points": points,
    "ratio": ratio,
    "ratio_end": ratio_end,
    "threshold": threshold,
    "exact_threshold": exact_threshold,
    "count": count,
    "rounded": rounded,
    "one_in": one_in,
    "pvalue": pvalue,
    "confidence": confidence,
    "exact_percent": exact_percent,
    "plural": plural,
    "interval": interval,
    "group": group,
    "capitalize_first": capitalize_first,
}
"""The filters registered on the report's Jinja2 environment."""
