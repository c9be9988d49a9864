"""List prices from a maintained source, so that sources without a cost column still get one.

Prices come from `genai-prices <https://github.com/pydantic/genai-prices>`_ (Pydantic's price data, bundled
with the package: no network). For each model the source gives prices per period (a price change on a
date, off-peak hours), long-context tiers (a request whose input, cached or not, is over the tier's threshold
pays the tier's rates on all its tokens) and separate 5-minute and 1-hour cache-write prices. The policy's
``pricing.models`` override it, per exact model name.

A model the source does not know stays *unpriced*: its cost is null and reported as such, never $0 and never
a sibling's price (ids are matched by the source's own rules, not by prefix). So is a row without tokens (a
request billed per request, a day of activity counts): a per-token price says nothing about it. Exports that
carry their own cost keep it.

Speed: prices are looked up once per distinct (model, price period, tier) -- a few dozen at most -- and each
row takes its key's position in that short list (integer codes, no join of the event rows), then gathers the
five rates by position.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib.metadata import version
from typing import TYPE_CHECKING

import polars as pl

from tokenaudit.policy import ModelPrice
from tokenaudit.schema import total_tokens

if TYPE_CHECKING:
    from genai_prices import types as gp

SOURCE_PACKAGE = "genai-prices"
_STRIDE = 64
"""Code = model * STRIDE² + period * STRIDE + tier: no model has 64 price periods or tiers."""

_BEDROCK_ID = re.compile(
    r"^(?:(?:us|eu|apac|au|jp|ca|us-gov|global)\.)?"
    r"(?:anthropic|amazon|meta|mistral|cohere|ai21|deepseek|openai|qwen|writer|twelvelabs)\.[a-z0-9]"
)
"""Amazon Bedrock model ids (``us.anthropic.claude-sonnet-4-5-20250929-v1:0``): priced as Bedrock prices them."""
_VERTEX_ID = re.compile(r"^claude-[a-z0-9.-]+@\d{8}$")
"""Google Vertex AI's Anthropic model ids (``claude-sonnet-4-5@20250929``)."""
_VERSION_FIRST = re.compile(r"^claude-(\d+)(?:\.(\d+))?-(opus|sonnet|haiku)\b")
"""Cursor's names put the version first (``claude-4.5-sonnet``); Anthropic's put the family first."""
_MODE_SUFFIX = re.compile(r"-(?:thinking|minimal|low|medium|high|xhigh)$")
"""Cursor's reasoning-effort and thinking suffixes (``gpt-5-high``, ``claude-4.5-sonnet-thinking``): request
options of one model at one price, tried off only when the full name is unknown."""


@dataclass(frozen=True)
class Rates:
    """US dollars per million tokens of each kind, for one price period and tier."""

    input: float
    output: float
    cache_read: float
    cache_write_5m: float
    cache_write_1h: float


@dataclass(frozen=True)
class PricePeriod:
    """One price of a model: when it applies, and its rates per long-context tier."""

    applies: str
    """``always``, ``from YYYY-MM-DD`` or ``HH:MM-HH:MM UTC``."""
    tiers: tuple[tuple[int, Rates], ...]
    """(input tokens above which the rates apply, rates), the base first with threshold 0."""
    constraint: gp.StartDateConstraint | gp.TimeOfDateConstraint | None = None


@dataclass(frozen=True)
class AppliedPrice:
    """The price a model name gets and where it comes from."""

    model: str
    source: str
    """``policy`` or ``genai-prices <version>``."""
    provider: str | None
    source_model: str | None
    """The source's id for the model (``claude-opus-4-6``) or None for a policy price."""
    periods: tuple[PricePeriod, ...]


def data_version() -> str:
    """The installed genai-prices version, which dates the price data."""
    return version(SOURCE_PACKAGE)


def _provider_and_name(model: str) -> tuple[str | None, str]:
    """The provider a model id names (Bedrock, Vertex, ``provider/model``), and the id to look up."""
    name = model.strip().lower()
    provider, _, rest = name.partition("/")
    if rest and provider in {"anthropic", "openai", "azure", "bedrock", "vertex_ai", "google", "aws"}:
        provider = {"bedrock": "aws", "vertex_ai": "google"}.get(provider, provider)
        return provider, rest
    if _BEDROCK_ID.match(name):
        return "aws", name
    if _VERTEX_ID.match(name):
        return "google", name
    return None, name


def _candidates(name: str) -> Iterator[str]:
    """The id itself, then Cursor's spellings of the same model (family first, effort suffix off)."""
    name = _VERSION_FIRST.sub(lambda m: f"claude-{m[3]}-{m[1]}" + (f"-{m[2]}" if m[2] else ""), name)
    yield name
    while (shorter := _MODE_SUFFIX.sub("", name)) != name:
        name = shorter
        yield name


def _decimal_rate(value: Decimal | gp.TieredPrices | None, input_tokens: int) -> float | None:
    """The rate a request with ``input_tokens`` of input pays (the source's cliff tiers), or None if unpriced."""
    from genai_prices.types import TieredPrices

    if value is None:
        return None
    if isinstance(value, TieredPrices):
        rate = value.base
        for tier in reversed(value.tiers):
            if input_tokens > tier.start:
                rate = tier.price
                break
        return float(rate)
    return float(value)


def _rates(price: gp.ModelPrice, input_tokens: int) -> Rates:
    """The five rates, as the source decomposes usage: an unpriced kind falls back to its parent's price."""

    def rate(key: str) -> float | None:
        return _decimal_rate(getattr(price, key, None), input_tokens)

    uncached = rate("input_mtok") or 0.0
    write_5m = rate("cache_write_mtok")
    write_5m = uncached if write_5m is None else write_5m
    write_1h = rate("cache_write_1h_mtok")
    read = rate("cache_read_mtok")
    return Rates(
        input=uncached,
        output=rate("output_mtok") or 0.0,
        cache_read=uncached if read is None else read,
        cache_write_5m=write_5m,
        cache_write_1h=write_5m if write_1h is None else write_1h,
    )


def _thresholds(price: gp.ModelPrice) -> list[int]:
    from genai_prices.types import TieredPrices

    starts = {
        tier.start
        for key in ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok", "cache_write_1h_mtok")
        if isinstance(value := getattr(price, key, None), TieredPrices)
        for tier in value.tiers
    }
    return sorted(starts)


def _period(
    price: gp.ModelPrice,
    constraint: gp.StartDateConstraint | gp.TimeOfDateConstraint | None,
    later: gp.StartDateConstraint | gp.TimeOfDateConstraint | None = None,
) -> PricePeriod:
    """One period; ``later`` is the next period's condition, which bounds an unconditional first price."""
    from genai_prices.types import StartDateConstraint

    if constraint is None and later is None:
        applies = "always"
    elif constraint is None:
        applies = f"before {later.start_date.isoformat()}" if isinstance(later, StartDateConstraint) else "other hours"
    elif isinstance(constraint, StartDateConstraint):
        applies = f"from {constraint.start_date.isoformat()}"
    else:
        applies = f"{constraint.start_time:%H:%M}-{constraint.end_time:%H:%M} UTC"
    # Each tier's rates are those of a request just over its threshold: the source's tiers are cliffs.
    tiers = ((0, _rates(price, 0)), *((start, _rates(price, start + 1)) for start in _thresholds(price)))
    return PricePeriod(applies=applies, tiers=tiers, constraint=constraint)


def _from_policy(model: str, price: ModelPrice) -> AppliedPrice:
    write_1h = price.cache_write if price.cache_write_1h is None else price.cache_write_1h
    rates = Rates(price.input, price.output, price.cache_read, price.cache_write, write_1h)
    return AppliedPrice(model, "policy", None, None, (PricePeriod("always", ((0, rates),)),))


def _policy_entry(model: str, overrides: Mapping[str, ModelPrice]) -> ModelPrice | None:
    """The policy's price for the model name, or for it without a date suffix (``-20250929``, ``@…``)."""
    wanted = {name.lower(): price for name, price in overrides.items()}
    name = model.strip().lower()
    undated = re.sub(r"(?:[-@]\d{8}|-\d{4}-\d{2}-\d{2}|@.*)$", "", name)
    return wanted.get(name) or wanted.get(undated)


@cache
def _from_source(model: str) -> AppliedPrice | None:
    """The source's price for one model id, or None when it does not know the model."""
    from genai_prices.data_snapshot import get_snapshot

    provider, name = _provider_and_name(model)
    snapshot = get_snapshot()
    for candidate in _candidates(name):
        try:
            found_provider, info = snapshot.find_provider_model(candidate, None, provider, None)
        except LookupError:
            continue
        return AppliedPrice(
            model=model,
            source=f"{SOURCE_PACKAGE} {data_version()}",
            provider=found_provider.id,
            source_model=info.id,
            periods=_periods(info),
        )
    return None


def _periods(info: gp.ModelInfo) -> tuple[PricePeriod, ...]:
    from genai_prices.types import ModelPrice as SourcePrice

    if isinstance(info.prices, SourcePrice):
        return (_period(info.prices, None),)
    laters = [conditional.constraint for conditional in info.prices[1:]] + [None]
    return tuple(
        _period(conditional.prices, conditional.constraint, later)
        for conditional, later in zip(info.prices, laters, strict=True)
    )


def price_for(model: str, overrides: Mapping[str, ModelPrice]) -> AppliedPrice | None:
    """The price that applies to ``model``: the policy's, else the source's, else None (unpriced)."""
    entry = _policy_entry(model, overrides)
    return _from_policy(model, entry) if entry is not None else _from_source(model)


def _active(constraint: gp.StartDateConstraint | gp.TimeOfDateConstraint | None) -> pl.Expr:
    """Whether a price period applies at each row's ``timestamp`` (UTC), as the source decides it."""
    from genai_prices.types import StartDateConstraint

    utc = pl.col("timestamp").dt.convert_time_zone("UTC")
    if constraint is None:
        return pl.lit(value=True)
    if isinstance(constraint, StartDateConstraint):
        return utc.dt.date() >= constraint.start_date
    start, end = (_utc_time(value) for value in (constraint.start_time, constraint.end_time))
    time = utc.dt.time()
    return (time >= start) | (time < end) if end < start else (time >= start) & (time < end)


def _utc_time(value: dt.time) -> dt.time:
    if value.tzinfo is None:
        return value
    return dt.datetime.combine(dt.date(1970, 1, 1), value).astimezone(dt.UTC).time()


def _period_index(periods: Sequence[PricePeriod]) -> pl.Expr:
    """The source's rule: the last period whose condition holds, else the first."""
    if len(periods) == 1:
        return pl.lit(0)
    chosen = pl.lit(0)
    for index, period in enumerate(periods):
        chosen = pl.when(_active(period.constraint)).then(pl.lit(index)).otherwise(chosen)
    return chosen


def _tier_index(tiers: Sequence[tuple[int, Rates]]) -> pl.Expr:
    """How many tier thresholds a request's whole input (uncached, cache reads and writes) is over."""
    if len(tiers) == 1:
        return pl.lit(0)
    whole_input = pl.sum_horizontal("input_tokens", "cache_read_tokens", "cache_write_tokens")
    over = pl.sum_horizontal([(whole_input > start).cast(pl.Int64) for start, _ in tiers[1:]])
    # Rows standing for many requests (hour or day buckets) cannot tell one request's size: base rates.
    return pl.when(pl.col("grain") == "request").then(over).otherwise(0)


def _choose(index: pl.Expr, cases: Sequence[tuple[int, pl.Expr]]) -> pl.Expr:
    """``cases[i][1]`` where ``index == cases[i][0]``, else 0: one branch per model that needs one."""
    chosen: pl.Expr = pl.lit(0)
    for value, expr in cases:
        chosen = pl.when(index == value).then(expr).otherwise(chosen)
    return chosen


def apply_prices(events: pl.LazyFrame, overrides: Mapping[str, ModelPrice]) -> pl.LazyFrame:
    """Fill ``cost_usd`` where the export had none and the model has a known price.

    Prices are looked up per distinct model name; each row then takes its (model, period, tier) code's
    position in the short list of rates and gathers the five rates by position.
    """
    models = events.select(pl.col("model").unique()).collect()["model"].drop_nulls().to_list()
    priced = [(model, found) for model in models if (found := price_for(model, overrides)) is not None]
    if not priced:
        return events
    codes: list[int] = []
    rates: list[Rates] = []
    for number, (_, applied) in enumerate(priced):
        for period_number, price_period in enumerate(applied.periods):
            for tier_number, (_, tier_rates) in enumerate(price_period.tiers):
                codes.append((number * _STRIDE + period_number) * _STRIDE + tier_number)
                rates.append(tier_rates)
    # Each distinct name's position in an Enum of them (a hash of each row's name, cheaper than replace_strict's
    # string match at 10M rows), then its number among the priced models (null: unpriced).
    number_of = {model: number for number, (model, _) in enumerate(priced)}
    model_number = pl.lit(pl.Series([number_of.get(model) for model in models], dtype=pl.Int64)).gather(
        pl.col("model").cast(pl.Enum(models)).to_physical()
    )
    numbered = pl.col("_model_number")
    period = _choose(
        numbered,
        [(n, _period_index(applied.periods)) for n, (_, applied) in enumerate(priced) if len(applied.periods) > 1],
    )
    tier = _choose(
        numbered * _STRIDE + pl.col("_period"),
        [
            (n * _STRIDE + p, _tier_index(period_price.tiers))
            for n, (_, applied) in enumerate(priced)
            for p, period_price in enumerate(applied.periods)
            if len(period_price.tiers) > 1
        ],
    )
    code = (numbered * _STRIDE + pl.col("_period")) * _STRIDE + tier
    position = code.replace_strict(codes, list(range(len(codes))), default=None, return_dtype=pl.Int64)

    def rate(kind: str) -> pl.Expr:
        return pl.lit(pl.Series([getattr(r, kind) for r in rates], dtype=pl.Float64)).gather(pl.col("_position"))

    write_1h = pl.col("cache_write_1h_tokens").fill_null(0)
    # A row without tokens (a request billed per request, a day of counts only) has nothing for a per-token
    # price to price: its cost is unknown, not $0.
    computed = pl.when(total_tokens() > 0).then(
        (
            pl.col("input_tokens") * rate("input")
            + pl.col("output_tokens") * rate("output")
            + pl.col("cache_read_tokens") * rate("cache_read")
            + (pl.col("cache_write_tokens") - write_1h) * rate("cache_write_5m")
            + write_1h * rate("cache_write_1h")
        )
        / 1_000_000
    )
    return (
        events.with_columns(model_number.alias("_model_number"))
        .with_columns(period.alias("_period"))
        .with_columns(position.alias("_position"))
        .with_columns(pl.coalesce("cost_usd", computed).alias("cost_usd"))
        .drop("_model_number", "_period", "_position")
    )
