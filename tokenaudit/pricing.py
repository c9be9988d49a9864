"""List prices, so that sources without a cost column still get one.

Prices are US dollars per million tokens, standard tier, as published by the vendors (checked
2026-11). A model that is not in the table (nor in the policy's ``pricing.models``) stays *unpriced*:
its cost is null and reported as such, never as $0. So is a row without tokens (a request billed per
request, a day of activity counts): a per-token price says nothing about it. Exports that carry their own
cost keep it.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from tokenaudit.policy import ModelPrice
from tokenaudit.schema import total_tokens

_ANTHROPIC = {
    "claude-opus-4-5": (5.0, 25.0),
    "claude-opus-4-1": (15.0, 75.0),
    "claude-opus-4": (15.0, 75.0),
    "claude-sonnet-4-5": (3.0, 15.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-3-7-sonnet": (3.0, 15.0),
    "claude-3-5-sonnet": (3.0, 15.0),
    "claude-haiku-4-5": (1.0, 5.0),
    "claude-3-5-haiku": (0.8, 4.0),
}
# Anthropic: a 5-minute cache write costs 1.25x input, a cache read 0.1x input.
_OPENAI = {
    "gpt-5": (1.25, 10.0, 0.125),
    "gpt-5-codex": (1.25, 10.0, 0.125),
    "gpt-5.1": (1.25, 10.0, 0.125),
    "gpt-5.1-codex": (1.25, 10.0, 0.125),
    "gpt-5-mini": (0.25, 2.0, 0.025),
    "gpt-4.1": (2.0, 8.0, 0.5),
    "gpt-4o": (2.5, 10.0, 1.25),
    "o3": (2.0, 8.0, 0.5),
}
# OpenAI bills no cache writes (they are ordinary input), so cache_write is priced as input.
_ALIASES = {
    "claude-4.5-sonnet": "claude-sonnet-4-5",
    "claude-4-sonnet": "claude-sonnet-4",
    "claude-4.5-opus": "claude-opus-4-5",
    "claude-4.1-opus": "claude-opus-4-1",
    "claude-4.5-haiku": "claude-haiku-4-5",
}

DEFAULT_PRICES: dict[str, ModelPrice] = {
    **{
        name: ModelPrice(input=i, output=o, cache_read=i * 0.1, cache_write=i * 1.25)
        for name, (i, o) in _ANTHROPIC.items()
    },
    **{name: ModelPrice(input=i, output=o, cache_read=c, cache_write=i) for name, (i, o, c) in _OPENAI.items()},
}
DEFAULT_PRICES.update({alias: DEFAULT_PRICES[target] for alias, target in _ALIASES.items()})


def price_table(overrides: Mapping[str, ModelPrice]) -> pl.DataFrame:
    """One row per priced model name (lower case), the policy's entries winning over defaults."""
    table = {**DEFAULT_PRICES, **{name.lower(): price for name, price in overrides.items()}}
    return pl.DataFrame(
        {
            "price_model": list(table),
            "p_input": [p.input for p in table.values()],
            "p_output": [p.output for p in table.values()],
            "p_cache_read": [p.cache_read for p in table.values()],
            "p_cache_write": [p.cache_write for p in table.values()],
        }
    )


def _price_key(names: list[str]) -> pl.Expr:
    """The table key a model id falls under: exact, or the longest ``key-…`` prefix (dated ids)."""
    model = pl.col("model").str.to_lowercase().str.replace(r"@.*$", "")
    ordered = sorted(names, key=len, reverse=True)
    return pl.coalesce(pl.when(model == name).then(pl.lit(name)) for name in ordered).fill_null(
        pl.coalesce(pl.when(model.str.starts_with(f"{name}-")).then(pl.lit(name)) for name in ordered)
    )


def apply_prices(events: pl.LazyFrame, overrides: Mapping[str, ModelPrice]) -> pl.LazyFrame:
    """Fill ``cost_usd`` where the export had none and the model has a known price.

    Prices are looked up per distinct model name, and each row takes its model's position in that short
    list (one hash lookup per row); the four prices are then gathered by position. A join would copy every
    column of every event to add four numbers.
    """
    table = price_table(overrides)
    models = (
        events.select(pl.col("model").unique())
        .collect()
        .with_columns(price_model=_price_key(table["price_model"].to_list()))
        .join(table, on="price_model", how="inner")
    )
    position = pl.col("model").replace_strict(
        models["model"], pl.int_range(models.height, eager=True), default=None, return_dtype=pl.Int64
    )

    def price(column: str) -> pl.Expr:
        return pl.lit(models[column]).gather(pl.col("_price_position"))

    # A row without tokens (a request billed per request, a day of counts only) has nothing for a per-token
    # price to price: its cost is unknown, not $0.
    computed = pl.when(total_tokens() > 0).then(
        (
            pl.col("input_tokens") * price("p_input")
            + pl.col("output_tokens") * price("p_output")
            + pl.col("cache_read_tokens") * price("p_cache_read")
            + pl.col("cache_write_tokens") * price("p_cache_write")
        )
        / 1_000_000
    )
    return (
        events.with_columns(position.alias("_price_position"))
        .with_columns(pl.coalesce("cost_usd", computed).alias("cost_usd"))
        .drop("_price_position")
    )
