"""The YAML policy: validated once into a typed, frozen object.

Errors are reported like a compiler would: ``policy.yaml:12: flags.volume_outlier.high: expected a number,
got 'x'``. Unknown keys are rejected (a typo silently ignored is a threshold silently not applied), and
duplicate keys are rejected too, because YAML would otherwise keep the last one without a word.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tokenaudit.detectors.config import Flags, Leaderboard
from tokenaudit.errors import PolicyError
from tokenaudit.outcomes.config import OutcomesConfig
from tokenaudit.periods import zone_name
from tokenaudit.ranking import RankingConfig
from tokenaudit.schema import EVENT_SCHEMA

NonNegative = Annotated[float, Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OnCall(_Strict):
    """Days on call (``starts`` to ``ends``, both included): a rotation whose work is pages and incidents, which no
    outcome export counts as delivered, so the ranking does not expect delivery on those days."""

    starts: dt.date
    ends: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> OnCall:
        if self.ends < self.starts:
            msg = f"ends ({self.ends}) is before starts ({self.starts})"
            raise ValueError(msg)
        return self


class Identity(_Strict):
    """One canonical developer: the team and every alias tools use for them."""

    team: str | None = None
    aliases: list[str] = Field(default_factory=list)
    starts: dt.date | None = None
    """First day with the organisation inside the period (a new joiner); else inferred from activity."""
    ends: dt.date | None = None
    """Last day (a leaver); else inferred from activity."""
    fte: Annotated[float, Field(gt=0, le=1)] | None = None
    """Working fraction (0.6 for three days a week); else inferred from a fixed weekly schedule."""
    on_call: list[OnCall] = Field(default_factory=list)
    """On-call rotations: those days count as not present for delivery (:mod:`tokenaudit.presence`)."""


class AgentRule(_Strict):
    """An agent identity (a role ARN, service account, bot login or API-key name) and whom it acts for.

    ``match`` is a glob (``*`` any run of characters, ``?`` one), compared case-insensitively with the whole
    name a source gives. With ``acts_for`` the usage is that person's (a canonical developer or any alias);
    otherwise it is the agent's own line, ``agent:<name>``, in ``team`` when one is given and else reported
    as unattributed. ``team`` also sets the team of usage attributed to a person. The first matching rule wins.
    """

    match: str = Field(min_length=1)
    acts_for: str | None = None
    team: str | None = None
    name: str | None = None
    """The agent's line when it acts for nobody: ``agent:<name>`` (default: the pattern)."""

    @property
    def label(self) -> str:
        """The name of the agent's own line."""
        return f"agent:{self.name or self.match}"


class ModelPrice(_Strict):
    """List prices in US dollars per million tokens."""

    input: NonNegative
    output: NonNegative
    cache_read: NonNegative
    cache_write: NonNegative
    cache_write_1h: NonNegative | None = None
    """1-hour cache writes, where they cost more than ``cache_write`` (5-minute writes); default ``cache_write``."""


class Pricing(_Strict):
    """Prices that override or extend the built-in table (``tokenaudit.pricing``)."""

    models: dict[str, ModelPrice] = Field(default_factory=dict)


class Policy(_Strict):
    """Everything an organisation can tune. Every key is documented in ``config.example.yaml``."""

    timezone: str = "UTC"
    owner_pattern: str | None = None
    """Regex with a named group ``developer`` applied to transcript paths (files that carry no identity)."""
    columns: dict[str, str] = Field(default_factory=dict)
    identities: dict[str, Identity] = Field(default_factory=dict)
    agents: list[AgentRule] = Field(default_factory=list)
    """Agent identities and the person or team they act for (:class:`AgentRule`), applied before identities."""
    leaderboard: Leaderboard = Field(default_factory=Leaderboard)
    pricing: Pricing = Field(default_factory=Pricing)
    flags: Flags = Field(default_factory=Flags)
    outcomes: OutcomesConfig = Field(default_factory=OutcomesConfig)
    ranking: RankingConfig = Field(default_factory=RankingConfig)
    min_group_size: Annotated[int, Field(ge=1)] = 5
    """``--teams-only``: teams with fewer developers than this are suppressed (small groups identify people)."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return zone_name(value)

    @field_validator("owner_pattern")
    @classmethod
    def _owner_regex(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            compiled = re.compile(value)
        except re.error as exc:
            msg = f"expected a regular expression, got {value!r} ({exc})"
            raise ValueError(msg) from None
        if "developer" not in compiled.groupindex:
            msg = "expected a regular expression with a named group (?P<developer>...)"
            raise ValueError(msg)
        return value

    @field_validator("columns")
    @classmethod
    def _canonical_targets(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(EVENT_SCHEMA) - {"source_file", "source_line", "prompt_text"})
        if unknown:
            msg = f"unknown canonical column {unknown[0]!r}; expected one of: {', '.join(EVENT_SCHEMA)}"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _aliases_unique(self) -> Policy:
        owner: dict[str, str] = {}
        for developer, identity in self.identities.items():
            for alias in (developer, *identity.aliases):
                key = alias.strip().lower()
                if owner.setdefault(key, developer) != developer:
                    msg = f"alias {alias!r} is given to both {owner[key]!r} and {developer!r}"
                    raise ValueError(msg)
        return self


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys instead of keeping the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *anchor` merges are allowed; explicit keys may override merged ones
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                msg = f"duplicate key {key!r}"
                raise yaml.constructor.ConstructorError(None, None, msg, key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _line_of(root: yaml.Node | None, path: tuple[int | str, ...]) -> int | None:
    """1-based line of the YAML node at ``path`` (or of its deepest existing parent)."""
    node, line = root, None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            match = next((pair for pair in node.value if pair[0].value == str(part)), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _describe(error: Mapping[str, Any]) -> str:
    kind, message = error["type"], str(error["msg"])
    if kind == "extra_forbidden":
        return "unknown key"
    got = error.get("input")
    message = message.removeprefix("Value error, ")
    if kind in {"value_error", "missing"}:
        return message
    return f"{message[0].lower()}{message[1:]}, got {got!r}"


def parse_policy(text: str, origin: str = "<policy>") -> Policy:
    """Parse and validate policy YAML, raising :class:`PolicyError` with file, line and key path."""
    try:
        root = yaml.compose(text, Loader=_UniqueKeyLoader)
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{origin}:{mark.line + 1}" if mark else origin
        msg = f"{where}: invalid YAML: {exc.problem or exc.context}"
        raise PolicyError(msg) from None
    except yaml.YAMLError as exc:
        msg = f"{origin}: invalid YAML: {exc}"
        raise PolicyError(msg) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        msg = f"{origin}: expected a mapping of policy keys at the top level, got {type(data).__name__}"
        raise PolicyError(msg)
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = tuple(first["loc"])
        line = _line_of(root, path)
        where = f"{origin}:{line}" if line else origin
        key = ".".join(str(part) for part in path) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        msg = f"{where}: {key}: {_describe(first)}{more}"
        raise PolicyError(msg) from None


def load_policy(path: Path | None) -> Policy:
    """Load the policy file, or the documented defaults when no file is given."""
    if path is None:
        return Policy()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        msg = f"{path}: policy file not found"
        raise PolicyError(msg) from None
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"{path}: cannot read policy file: {exc}"
        raise PolicyError(msg) from None
    return parse_policy(text, str(path))
