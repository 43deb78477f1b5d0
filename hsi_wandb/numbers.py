"""Numbers that PyYAML reads as text: YAML 1.1 wants a dot in a float, so ``5e-4`` and ``2e-5`` load as strings."""
import re
from typing import Any, Mapping, Optional

from .config import is_sequence

_EXPONENT_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")
"""What YAML 1.2 reads as a float and PyYAML as a string (a quoted ``"42"`` or ``"0.5"`` stays text)."""


def number_in_text(text: str) -> Optional[float]:
    """The float a string such as ``5e-4`` spells, or None when it spells no number in exponent form."""
    return float(text) if _EXPONENT_NUMBER.match(text) else None


def with_numbers(data: Any) -> Any:
    """A plain copy of config data (mappings as dicts, sequences as lists) with every such string as its number: to
    log, never to hand to the agent."""
    if isinstance(data, Mapping):
        return {key: with_numbers(value) for key, value in data.items()}
    if is_sequence(data):
        return [with_numbers(value) for value in data]
    if isinstance(data, str):
        number = number_in_text(data)
        return data if number is None else number
    return data
