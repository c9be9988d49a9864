"""GitHub pull requests: ``gh pr list --state all --json …`` and the REST ``GET /repos/{o}/{r}/pulls`` list.

- A merged PR (``mergedAt`` / ``merged_at`` set) is a ``merged_pr`` of its author, at its merge time.
- A merged revert (title matching ``outcomes.revert_title_pattern`` or a label in ``revert_labels``) is
  not an outcome of whoever opened it: it is a ``revert`` charged to the author of the reverted PR,
  found from GitHub's ``Reverts owner/repo#N`` body line when the export has ``body``, otherwise by the
  quoted title in the same repository. Reverts that cannot be linked are counted, never guessed.
- Bots (``is_bot``, REST ``type: Bot``, or ``outcomes.bot_pattern``) credit nobody; they are counted.
- ``gh`` output names no repository, so it is taken from ``url``; repo + number is the key that makes
  overlapping exports count once. ``gh api --paginate`` prints pages back to back: all are read.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

import polars as pl

from tokenaudit.errors import InputError
from tokenaudit.outcomes import merge_rate
from tokenaudit.outcomes.base import OutcomeContext, OutcomeRead
from tokenaudit.outcomes.config import OutcomesConfig
from tokenaudit.outcomes.schema import conform_outcomes
from tokenaudit.readers import coerce
from tokenaudit.readers.base import Detection
from tokenaudit.readers.sources import Source

_LOGIN = pl.Struct({"login": pl.String, "is_bot": pl.Boolean, "type": pl.String})
_PR_SCHEMA: dict[str, pl.DataType] = {
    **{name: pl.String() for name in ("number", "url", "html_url", "title", "body")},
    **dict.fromkeys(("mergedAt", "merged_at", "createdAt", "created_at", "reviewDecision"), pl.String()),
    **dict.fromkeys(("state", "closedAt", "closed_at"), pl.String()),  # closed unmerged PRs (merge_rate.py)
    **dict.fromkeys(("additions", "deletions", "changedFiles", "changed_files"), pl.String()),
    "author": _LOGIN,
    "user": _LOGIN,
    "mergedBy": _LOGIN,
    "merged_by": _LOGIN,
    "reviews": pl.List(pl.Struct({"author": _LOGIN, "state": pl.String})),
    "labels": pl.List(pl.Struct({"name": pl.String})),
}
REPO_FROM_URL = r"github[^/]*/([^/]+/[^/]+)/pull/\d+"


def _pages(source: Source) -> list[list[object]]:
    """Every JSON value in the file: one array from ``gh pr list``, several from ``gh api --paginate``."""
    text = source.read_bytes().decode("utf-8", errors="replace").removeprefix("\ufeff")
    decoder = json.JSONDecoder()
    pages: list[list[object]] = []
    position = len(text) - len(text.lstrip())
    while position < len(text):
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            msg = f"{source.name}:{exc.lineno}:{exc.colno}: invalid JSON ({exc.msg}); expected a gh/REST PR list"
            raise InputError(msg) from None
        pages.append(value if isinstance(value, list) else [value])
        position = end + len(text[end:]) - len(text[end:].lstrip())
    return pages


def _frame(source: Source) -> pl.DataFrame:
    """The PR records of one file (all its pages) with the fields this reader needs, as text."""
    records = [record for page in _pages(source) for record in page]
    strange = next((i for i, record in enumerate(records) if not isinstance(record, dict)), None)
    if strange is not None:
        msg = f"{source.name}: record {strange + 1} is not an object; expected a list of pull requests"
        raise InputError(msg)
    try:
        # Polars reads the nested author/user/labels shapes against a schema; the json module only split pages.
        frame = pl.read_json(io.BytesIO(json.dumps(records).encode()), schema=_PR_SCHEMA)
    except pl.exceptions.PolarsError as exc:
        msg = f"{source.name}: unexpected pull request shape: {str(exc).splitlines()[0]}"
        raise InputError(msg) from None
    return frame.with_columns(source_line=pl.int_range(1, frame.height + 1, dtype=pl.Int64))


def author_login() -> pl.Expr:
    """The PR author's login (``gh``'s ``author`` or REST's ``user``)."""
    return pl.coalesce(pl.col("author").struct.field("login"), pl.col("user").struct.field("login"))


def is_bot(login: pl.Expr, config: OutcomesConfig) -> pl.Expr:
    """Bot authors: GitHub's own marker (``is_bot``, REST ``type: Bot``) or ``outcomes.bot_pattern``."""
    return (
        pl.col("author").struct.field("is_bot").fill_null(False)
        | (pl.col("user").struct.field("type") == "Bot").fill_null(False)
        | login.str.contains(config.bot_pattern).fill_null(False)
    )


def pull_request_records(source: Source) -> pl.DataFrame:
    """The PR records of one file as this module reads them, for :mod:`tokenaudit.outcomes.merge_rate`."""
    return _frame(source)


def read_pull_requests(sources: Sequence[Source], config: OutcomesConfig) -> OutcomeRead:
    """Merged PRs and linked reverts from every given PR export, each PR counted once across files."""
    frames = [_frame(source).with_columns(source_file=pl.lit(source.name)) for source in sources]
    raw = pl.concat(frames)
    login = author_login()
    bot = is_bot(login, config)
    url = pl.coalesce("html_url", "url")
    merged_at = coerce.timestamp("merged_raw", "UTC", field="mergedAt")
    opened_at = coerce.timestamp("opened_raw", "UTC", field="createdAt")
    number = coerce.count("number")
    reviewers = pl.col("reviews").list.eval(pl.element().struct.field("author").struct.field("login"))
    reviewed_by_others = reviewers.list.set_difference(pl.concat_list(login)).list.len() > 0
    merged = raw.with_columns(
        login=login,
        bot=bot,
        repo=url.str.extract(REPO_FROM_URL, 1),
        merged_raw=pl.coalesce("mergedAt", "merged_at"),
        opened_raw=pl.coalesce("createdAt", "created_at"),
        size=pl.col("additions").cast(pl.Float64, strict=False) + pl.col("deletions").cast(pl.Float64, strict=False),
        files=pl.coalesce("changedFiles", "changed_files").cast(pl.Int64, strict=False),
        merged_by=pl.coalesce(pl.col("mergedBy").struct.field("login"), pl.col("merged_by").struct.field("login")),
        # Unknown (null) unless the export has review fields: the REST list has none.
        reviewed=pl.when(pl.col("reviews").is_not_null() | pl.col("reviewDecision").is_not_null()).then(
            (pl.col("reviewDecision") == "APPROVED").fill_null(False) | reviewed_by_others.fill_null(False)
        ),
        label_names=pl.col("labels").list.eval(pl.element().struct.field("name").str.to_lowercase()),
    ).filter(pl.col("merged_raw").is_not_null())
    checked = coerce.with_staged(merged, merged_at, opened_at).with_columns(
        merged=merged_at.value,
        opened=opened_at.value,
        number=number.value,
        reason=pl.coalesce(number.problem, merged_at.problem),
    )
    rejects = checked.filter(pl.col("reason").is_not_null()).select(
        "source_file",
        "source_line",
        "reason",
        pl.concat_str(pl.lit("#"), pl.col("number").cast(pl.String), pl.lit(" "), pl.col("title").fill_null(""))
        .fill_null("")
        .alias("raw"),
    )
    good = (
        checked.filter(pl.col("reason").is_null())
        .with_columns(item=pl.col("repo").fill_null("?") + "#" + pl.col("number").cast(pl.String))
        .unique("item", keep="last", maintain_order=True)
    )
    return _outcomes(good, rejects, config)


def _outcomes(prs: pl.DataFrame, rejects: pl.DataFrame, config: OutcomesConfig) -> OutcomeRead:
    """Split merged PRs into bots, reverts (linked to their original author) and merged PRs."""
    revert_labels = [label.lower() for label in config.revert_labels]
    is_revert = pl.col("title").str.contains(config.revert_title_pattern).fill_null(False) | pl.col(
        "label_names"
    ).list.eval(pl.element().is_in(revert_labels)).list.any().fill_null(False)
    humans = prs.filter(~pl.col("bot"))
    reverts = humans.filter(is_revert)
    merged_prs = humans.filter(~is_revert)
    originals = merged_prs.select(
        pl.col("item").alias("reverted_item"),
        pl.col("repo"),
        pl.col("title").alias("reverted_title"),
        pl.col("login").alias("original_author"),
        pl.col("merged").alias("original_merged"),
    )
    linked_by_body = reverts.with_columns(
        reverted_item=pl.col("body").str.extract(r"(?m)^Reverts ([\w.-]+/[\w.-]+#\d+)", 1)
    ).join(originals.drop("repo", "reverted_title"), on="reverted_item", how="left")
    by_title = (
        linked_by_body.filter(pl.col("original_author").is_null())
        .drop("reverted_item", "original_author", "original_merged")
        .with_columns(reverted_title=pl.col("title").str.extract(config.revert_title_pattern, 1))
        .join(originals, on=["repo", "reverted_title"], how="left")
        .filter(pl.col("original_merged").is_null() | (pl.col("original_merged") <= pl.col("merged")))
        .sort("original_merged", nulls_last=False)
        .unique("item", keep="last")
    )
    linked = pl.concat(
        [
            linked_by_body.filter(pl.col("original_author").is_not_null()).select("item", "merged", "original_author"),
            by_title.select("item", "merged", "original_author"),
        ]
    )
    revert_outcomes = linked.filter(pl.col("original_author").is_not_null()).select(
        pl.col("original_author").alias("developer"),
        pl.col("merged").alias("timestamp"),
        pl.lit("revert").alias("kind"),
        pl.col("item"),
    )
    revert_rows = reverts.select("item", "source_file", "source_line")
    outcomes = pl.concat(
        [
            merged_prs.select(
                pl.col("login").alias("developer"),
                pl.col("merged").alias("timestamp"),
                pl.lit("merged_pr").alias("kind"),
                "size",
                "files",
                "opened",
                "merged_by",
                "reviewed",
                "item",
                "source_file",
                "source_line",
            ).lazy(),
            revert_outcomes.join(revert_rows, on="item", how="left").lazy(),
        ],
        how="diagonal_relaxed",
    ).with_columns(pl.lit(1).alias("count"))
    return OutcomeRead(
        outcomes=conform_outcomes(outcomes).collect(),
        rejects=rejects,
        bot_prs=prs.filter(pl.col("bot")).height,
        unlinked_reverts=reverts.height - revert_outcomes.height,
    )


class GitHubPullRequestsReader:
    """Merged PRs and linked reverts; PRs closed unmerged too where the policy weighs them."""

    name: ClassVar[str] = "github_prs"
    title: ClassVar[str] = "GitHub pull requests"
    exported_by: ClassVar[str] = (
        "gh pr list --state all --limit 5000 --json number,url,author,state,createdAt,mergedAt,closedAt,"
        "additions,deletions,changedFiles,mergedBy,reviewDecision,reviews,labels,title,body  |  "
        "gh api --paginate 'repos/OWNER/REPO/pulls?state=all&per_page=100' (no sizes: see the README)"
    )

    def detect(self, source: Source, context: OutcomeContext) -> Detection:
        """A JSON array (or pages of arrays) of objects with a PR ``number`` and an ``author``/``user``."""
        text = source.head_text().lstrip()
        return Detection(text.startswith("[") and '"number"' in text and ('"author"' in text or '"user"' in text))

    def read(self, sources: Sequence[Source], context: OutcomeContext) -> OutcomeRead:
        prs = read_pull_requests(sources, context.config)
        if merge_rate.KIND not in context.config.weights:  # opt-in: the kind exists only where the policy weighs it
            return prs
        closed_unmerged, unreadable = merge_rate.read_closed_unmerged(sources, context.config)
        return replace(
            prs,
            outcomes=pl.concat([prs.outcomes, closed_unmerged]),
            rejects=pl.concat([prs.rejects, unreadable]),
        )
