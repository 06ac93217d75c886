"""Token prices, so a run can report what it cost and stop before it overspends.

Prices are USD per million tokens from Anthropic's public price list. A model that is not
listed has no price (None), never a price of 0: an unknown model must not look free to a budget.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

# Multipliers on the base input price for prompt caching with the default 5-minute TTL.
CACHE_WRITE_MULTIPLIER = 1.25
CACHE_READ_MULTIPLIER = 0.1


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float

    @property
    def cache_write(self) -> float:
        return self.input * CACHE_WRITE_MULTIPLIER

    @property
    def cache_read(self) -> float:
        return self.input * CACHE_READ_MULTIPLIER


_OPUS_NEW = Price(5.0, 25.0)
_OPUS_OLD = Price(15.0, 75.0)
_SONNET = Price(3.0, 15.0)

PRICES: dict[str, Price] = {
    "claude-opus-4-6": _OPUS_NEW,
    "claude-opus-4-5": _OPUS_NEW,
    "claude-opus-4-1": _OPUS_OLD,
    "claude-opus-4-0": _OPUS_OLD,
    "claude-opus-4": _OPUS_OLD,
    "claude-3-opus": _OPUS_OLD,
    "claude-sonnet-4-6": _SONNET,
    "claude-sonnet-4-5": _SONNET,
    "claude-sonnet-4-0": _SONNET,
    "claude-sonnet-4": _SONNET,
    "claude-3-7-sonnet": _SONNET,
    "claude-3-5-sonnet": _SONNET,
    "claude-haiku-4-5": Price(1.0, 5.0),
    "claude-3-5-haiku": Price(0.8, 4.0),
    "claude-3-haiku": Price(0.25, 1.25),
}

# A listed id, optionally followed by a snapshot date or "-latest". Anything else (for example
# "claude-opus-4-7", which merely starts like "claude-opus-4") is unknown on purpose.
_SUFFIX = re.compile(r"(-\d{8}|-latest)?")


class UsageLike(Protocol):
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int


def price_for(model: str) -> Price | None:
    """The price of `model`, matching dated ids such as claude-haiku-4-5-20251001."""
    for name, price in PRICES.items():
        if model.startswith(name) and _SUFFIX.fullmatch(model[len(name) :]):
            return price
    return None


def _field(usage: UsageLike | Mapping[str, int | None], key: str) -> int:
    value = usage.get(key) if isinstance(usage, Mapping) else getattr(usage, key, 0)
    return int(value or 0)


def cost_usd(model: str, usage: UsageLike | Mapping[str, int | None]) -> float | None:
    """What one or more requests cost; None when the model has no known price."""
    price = price_for(model)
    if price is None:
        return None
    return (
        _field(usage, "input_tokens") * price.input
        + _field(usage, "output_tokens") * price.output
        + _field(usage, "cache_creation_input_tokens") * price.cache_write
        + _field(usage, "cache_read_input_tokens") * price.cache_read
    ) / 1_000_000


def worst_case_cost(model: str, input_tokens: int, max_tokens: int) -> float | None:
    """An upper bound on the next request: every input token at the dearest (cache write) rate
    and the full output allowance. None when the model has no known price."""
    price = price_for(model)
    if price is None:
        return None
    return (input_tokens * price.cache_write + max_tokens * price.output) / 1_000_000
