"""Numbers that PyYAML reads as text: YAML 1.1 wants a dot in a float, so ``5e-4`` and ``2e-5`` load as strings."""
import re
from typing import Any, Optional

from .config import plain_data

_EXPONENT_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")
"""What YAML 1.2 reads as a float and PyYAML as a string (a quoted ``"42"`` or ``"0.5"`` stays text)."""


def number_in_text(text: str) -> Optional[float]:
    """The float a string such as ``5e-4`` spells, or None when it spells no number in exponent form."""
    return float(text) if _EXPONENT_NUMBER.match(text) else None


def with_numbers(data: Any) -> Any:
    """A plain copy of config data (mappings as dicts, sequences as lists) with every such string as its number: to
    log, never to hand to the agent."""
    return plain_data(data, _as_number)


def _as_number(value: Any) -> Any:
    number = number_in_text(value) if isinstance(value, str) else None
    return value if number is None else number
