"""Number formats shared by the parts of ``stream bench``'s report."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["Row", "number", "tick"]

#: a summary row: measure, figure, target
Row = tuple[str, str, str]


def number(value: Any, fmt: str = ",.0f", unit: str = "") -> str:
    """``value`` formatted, with ``unit`` after it; an en dash when it is missing or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:{fmt}}{unit}"


def tick(value: float, _: object) -> str:
    """An axis tick label: thousands separated, fractions as short as they go."""
    return f"{value:,.0f}" if value >= 1 else f"{value:g}"
