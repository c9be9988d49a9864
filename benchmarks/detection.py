"""Adversarial evaluation of the Goodhart flags and the outcome-adjusted board (issues 13 and 14).

Usage: python benchmarks/detection.py [--seeds 1 2 3 4 5] [--quick] [--jobs 2] [--markdown benchmarks/DETECTION.md]
       python benchmarks/detection.py --legacy [--seeds 1 2 3]   (the old figures on tokenaudit.simulate)

For each seed, :mod:`tokenaudit.adversary` writes an organisation as real export files (Claude Code
transcripts, Cursor pages, a gateway CSV, a day-grain usage report, gh PR JSON, Jira CSV). They are read
once with the real readers (the API the CLI uses) and audited three times: token logs only ("behaviour"),
with outcomes, and with outcomes on the same organisation minus its planted gamers (for the elasticity
they would otherwise flatten). "Caught" is a medium or high flag, or a medium or high risk level.
Positions on the adjusted board are 1 = best yield; "bottom quarter" is a rank past 75% of the developers the board
compares ("not placed": the order put them in the bottom quarter on too few posterior draws; the board lists them
with a rank interval instead of a rank, and the others keep their places).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl

from tokenaudit.adversary import AdversaryConfig, generate, write_organisation
from tokenaudit.adversary.cases import EDGE_CASES, GAMER_CASES
from tokenaudit.audit import run_audit
from tokenaudit.documents import audit_document
from tokenaudit.ingest import LoadedEvents, Period, load_events
from tokenaudit.outcomes.read import OutcomeRead, read_outcomes
from tokenaudit.policy import Policy, load_policy

MEDIUM_PLUS = ("medium", "high")
QUICK = {"seeds": [1, 2], "developers": 30, "weeks": 2}
HEAVY_CASES = ("heavy_agent_user",)


@dataclasses.dataclass(frozen=True)
class SeedResult:
    """One seed's per-developer rows (one per audit mode) and its fitted elasticities."""

    rows: pl.DataFrame
    elasticity: dict[str, float | None]
    seconds: float


def developer_rows(document: dict[str, Any], mode: str) -> list[dict[str, Any]]:
    """The figures the evaluation needs, from the audit's JSON document (the stable interface)."""
    rows = []
    for developer in document["developers"]:
        strong = sorted(flag["id"] for flag in developer.get("flags", []) if flag["severity"] in MEDIUM_PLUS)
        rank = developer.get("rank") or {}
        risk = developer["risk"]["level"]
        rows.append(
            {
                "developer": developer["developer"],
                "mode": mode,
                "risk": risk,
                "flag_medium_plus": bool(strong),
                "flags": ",".join(strong),
                "caught": bool(strong) or risk in MEDIUM_PLUS,
                "high_risk": risk == "high",
                "rank_tokens": rank.get("tokens"),
                "rank_adjusted": rank.get("adjusted"),
                "status": developer.get("ranking_status"),
                "bottom_quarter_chance": rank.get("bottom_quarter_chance"),
                "board_row": rank.get("board_row"),
                "tokens_in_full_share": developer.get("tokens_in_full_share"),
            }
        )
    return rows


def without(
    loaded: LoadedEvents, read: OutcomeRead, policy: Policy, manifest: dict[str, Any]
) -> tuple[LoadedEvents, OutcomeRead]:
    """The same organisation with its planted gamers removed (their events, and outcomes under any alias)."""
    gamers = [d["developer"] for d in manifest["developers"] if d["kind"] == "gamer"]
    aliases = {alias.lower() for email in gamers for alias in (email, *policy.identities[email].aliases)}
    events = loaded.events.filter(~pl.col("developer").is_in(gamers))
    outcomes = read.outcomes.filter(~pl.col("developer").str.to_lowercase().is_in(sorted(aliases)))
    return dataclasses.replace(loaded, events=events), dataclasses.replace(read, outcomes=outcomes)


def run_seed(seed: int, config: AdversaryConfig, folder: Path) -> SeedResult:
    """Generate, read and audit one organisation in the three modes."""
    started = time.perf_counter()
    manifest = write_organisation(generate(dataclasses.replace(config, seed=seed)), folder)
    policy = load_policy(folder / "policy.yaml")
    loaded = load_events([str(folder / "logs")], policy, Period(timezone=policy.timezone))
    read = read_outcomes([str(folder / "outcomes")], policy.outcomes, policy.timezone)
    rows: list[dict[str, Any]] = []
    elasticity: dict[str, float | None] = {}
    for mode, events, outcomes in (("behaviour", loaded, None), ("outcomes", loaded, read)):
        result = run_audit(events, policy, outcomes)
        rows += developer_rows(audit_document(result).data, mode)
        if result.ranking is not None:
            elasticity["with gamers"] = result.ranking.elasticity
    honest_events, honest_outcomes = without(loaded, read, policy, manifest)
    result = run_audit(honest_events, policy, honest_outcomes)
    rows += developer_rows(audit_document(result).data, "honest only")
    elasticity["without gamers"] = result.ranking.elasticity if result.ranking else None
    cases = pl.DataFrame(
        [
            {k: d[k] for k in ("developer", "kind", "case", "intensity", "total_tokens", "productivity")}
            for d in manifest["developers"]
        ]
    )
    frame = pl.DataFrame(rows, infer_schema_length=None).join(cases, on="developer", how="left")
    ranked = pl.col("status") == "ranked"
    frame = frame.with_columns(
        seed=pl.lit(seed),
        n_developers=pl.len().over("mode"),
        n_ranked=pl.col("status").is_in(["ranked", "not_placed"]).sum().over("mode"),
    ).with_columns(
        bottom_quarter=ranked & (pl.col("rank_adjusted") > 0.75 * pl.col("n_ranked")),
        top_half=ranked & (pl.col("rank_adjusted") <= 0.5 * pl.col("n_ranked")),
        position=pl.when(ranked).then(pl.col("rank_adjusted") / pl.col("n_ranked")),
        raw_position=pl.col("rank_tokens") / pl.col("n_developers"),
    )
    return SeedResult(frame, elasticity, time.perf_counter() - started)


def _share(flags: pl.Expr) -> pl.Expr:
    """'k/n' of a boolean column."""
    return pl.format("{}/{}", flags.sum(), flags.count())


def _flag_ids(column: str) -> pl.Expr:
    """The distinct medium+ flag ids seen across the runs (behaviour mode)."""
    ids = pl.col(column).str.split(",").list.explode()
    return ids.filter(ids != "").unique().sort().str.join(" ").alias("medium+ flags seen")


def gamer_table(rows: pl.DataFrame) -> pl.DataFrame:
    """Per gamer case and intensity: caught without and with outcomes, board positions, the combined catch."""
    behaviour = rows.filter(pl.col("mode") == "behaviour", pl.col("kind") == "gamer")
    outcomes = rows.filter(pl.col("mode") == "outcomes", pl.col("kind") == "gamer")
    joined = behaviour.select("seed", "developer", "case", "intensity", pl.col("caught").alias("caught_b"),
                              pl.col("flags").alias("flags_b")).join(
        outcomes.select("seed", "developer", "caught", "bottom_quarter", "top_half", "position", "raw_position",
                        "flags", "status"),
        on=["seed", "developer"],
    )  # fmt: skip
    order = {name: index for index, name in enumerate(GAMER_CASES)}
    return (
        joined.group_by("case", "intensity")
        .agg(
            _share(pl.col("caught_b")).alias("caught (no outcomes)"),
            _share(pl.col("caught")).alias("caught (outcomes)"),
            _share(pl.col("bottom_quarter")).alias("adj. bottom 1/4"),
            _share(pl.col("top_half")).alias("adj. top 1/2"),
            _share(pl.col("status") == "not_placed").alias("not placed"),
            _share(pl.col("caught") | pl.col("bottom_quarter")).alias("flag or bottom 1/4"),
            pl.col("position").mean().round(2).alias("adj. position"),
            pl.col("raw_position").mean().round(2).alias("raw position"),
            _flag_ids("flags_b"),
        )
        .sort(pl.col("case").replace_strict(order, return_dtype=pl.Int64), "intensity")
    )


def edge_table(rows: pl.DataFrame) -> pl.DataFrame:
    """Per honest edge case: high risk and medium+ without/with outcomes, and board positions."""
    edges = rows.filter(pl.col("kind") == "edge")
    behaviour = edges.filter(pl.col("mode") == "behaviour")
    outcomes = edges.filter(pl.col("mode") == "outcomes")
    joined = behaviour.select(
        "seed", "developer", "case", pl.col("high_risk").alias("high_b"), pl.col("caught").alias("caught_b"),
        pl.col("flags").alias("flags_b"),
    ).join(outcomes.select("seed", "developer", "high_risk", "caught", "bottom_quarter", "position", "status"),
           on=["seed", "developer"])  # fmt: skip
    order = {name: index for index, name in enumerate(EDGE_CASES)}
    return (
        joined.group_by("case")
        .agg(
            _share(pl.col("high_b")).alias("high risk (no outcomes)"),
            _share(pl.col("high_risk")).alias("high risk (outcomes)"),
            _share(pl.col("caught_b")).alias("medium+ (no outcomes)"),
            _share(pl.col("caught")).alias("medium+ (outcomes)"),
            _share(pl.col("bottom_quarter")).alias("adj. bottom 1/4"),
            _share(pl.col("status") == "not_placed").alias("not placed"),
            pl.col("position").mean().round(2).alias("adj. position"),
            _flag_ids("flags_b"),
        )
        .sort(pl.col("case").replace_strict(order, return_dtype=pl.Int64))
    )


def placement_table(rows: pl.DataFrame) -> pl.DataFrame:
    """Per planted case and seed, where the adjusted board put each developer: the row the order gives over the
    developers compared, ``*`` when placed in the bottom quarter, ``?`` when not placed (uncertain), with the
    bottom-quarter chance in brackets; `` / `` between the two members of the two-person team."""
    planted = rows.filter(pl.col("mode") == "outcomes", pl.col("kind") != "honest", pl.col("board_row").is_not_null())
    cells = planted.sort("seed", "developer").with_columns(
        cell=pl.format(
            "{}{} ({})",
            (pl.col("board_row") / pl.col("n_ranked")).round(2),
            pl.when(pl.col("bottom_quarter"))
            .then(pl.lit("*"))
            .when(pl.col("status") == "not_placed")
            .then(pl.lit("?"))
            .otherwise(pl.lit("")),
            pl.col("bottom_quarter_chance").round(2),
        )
    )
    by_seed = cells.group_by("case", "seed").agg(pl.col("cell").str.join(" / "))
    order = {name: index for index, name in enumerate((*GAMER_CASES, *EDGE_CASES))}
    table = by_seed.pivot(on="seed", index="case", values="cell", sort_columns=True)
    return table.sort(pl.col("case").replace_strict(order, return_dtype=pl.Int64)).rename(
        {name: f"seed {name}" for name in table.columns if name != "case"}
    )


def missed_table(rows: pl.DataFrame) -> pl.DataFrame:
    """Per gamer that neither a flag nor the board caught: its row and bottom-quarter chance, how many honest
    developers (edge cases among them) the board held at least as likely to be in the bottom quarter, which it would
    have had to place first, and the gamer's latent outcome rate as a percentile of the organisation's ordinary
    developers' (its honest self: the generator's truth, set before the case changed its tokens)."""
    board = rows.filter(pl.col("mode") == "outcomes")
    missed = board.filter(pl.col("kind") == "gamer", ~pl.col("caught"), ~pl.col("bottom_quarter")).select(
        "seed", "case", "intensity", "board_row", "n_ranked", "status", "bottom_quarter_chance", "productivity"
    )
    others = board.filter(pl.col("kind") != "gamer").select(
        "seed", pl.col("kind").alias("other_kind"), pl.col("bottom_quarter_chance").alias("other_chance"),
        pl.col("productivity").alias("other_productivity"),
    )  # fmt: skip
    ahead = pl.col("other_chance") >= pl.col("bottom_quarter_chance")
    ordinary = pl.col("other_kind") == "honest"
    return (
        missed.join(others, on="seed")
        .group_by("seed", "case", "intensity", "board_row", "n_ranked", "status", "bottom_quarter_chance")
        .agg(
            ahead.sum().alias("honest"),
            (ahead & (pl.col("other_kind") == "edge")).sum().alias("edge"),
            (((pl.col("other_productivity") < pl.col("productivity")) & ordinary).sum() / ordinary.sum()).alias("rate"),
        )
        .sort("seed", "case")
        .select(
            "seed",
            "case",
            "intensity",
            pl.format(
                "{}{} ({})",
                (pl.col("board_row") / pl.col("n_ranked")).round(2),
                pl.when(pl.col("status") == "not_placed").then(pl.lit("?")).otherwise(pl.lit("")),
                pl.col("bottom_quarter_chance").round(2),
            ).alias("row (bottom-quarter chance)"),
            pl.format("{} ({})", "honest", "edge").alias("honest at least as likely (edge cases)"),
            pl.col("rate").round(2).alias("latent rate, percentile"),
        )
    )


def _auc(frame: pl.DataFrame, column: str) -> float | None:
    """P(a gamer's ``column`` is larger, i.e. placed lower, than an honest developer's), ties half."""
    gamers = frame.filter(pl.col("kind") == "gamer")[column].drop_nulls().to_list()
    honest = frame.filter(pl.col("kind") != "gamer")[column].drop_nulls().to_list()
    if not gamers or not honest:
        return None
    wins = sum((g > h) + 0.5 * (g == h) for g in gamers for h in honest)
    return wins / (len(gamers) * len(honest))


def summary_lines(rows: pl.DataFrame, results: list[SeedResult]) -> list[str]:
    """Headline figures: honest false-positive rates, behaviour-only precision/recall, board AUC, elasticity."""
    lines = []
    for mode in ("behaviour", "outcomes"):
        frame = rows.filter(pl.col("mode") == mode)
        ordinary = frame.filter(pl.col("kind") == "honest")
        gamers = frame.filter(pl.col("kind") == "gamer")
        flagged = frame.filter(pl.col("caught"))
        true_positive = flagged.filter(pl.col("kind") == "gamer").height
        precision = true_positive / flagged.height if flagged.height else float("nan")
        recall = true_positive / gamers.height if gamers.height else float("nan")
        heavy = frame.filter(
            (pl.col("kind") != "gamer")
            & ((pl.col("rank_tokens") <= 0.25 * pl.col("n_developers")) | pl.col("case").is_in(HEAVY_CASES))
        )
        edges_high = frame.filter(pl.col("kind") == "edge", pl.col("high_risk")).height
        lines.append(
            f"{mode:>9}: ordinary honest with medium+ {ordinary['caught'].sum()}/{ordinary.height} "
            f"({ordinary['caught'].mean():.1%}); precision {precision:.2f}, recall {recall:.2f} on planted gamers "
            f"({true_positive}/{gamers.height}); honest heavy users (top quarter by tokens) flagged "
            f"{heavy['caught'].sum()}/{heavy.height}; edge cases at high risk {edges_high}"
        )
    board = rows.filter(pl.col("mode") == "outcomes", pl.col("status") == "ranked")
    aucs = [(_auc(s, "position"), _auc(s, "raw_position")) for _, s in board.group_by("seed", maintain_order=True)]
    adjusted = [a for a, _ in aucs if a is not None]
    raw = [r for _, r in aucs if r is not None]
    lines.append(
        f"board: AUC gamers placed below honest, adjusted {statistics.fmean(adjusted):.2f} "
        f"(per seed {', '.join(f'{a:.2f}' for a in adjusted)}); raw token board {statistics.fmean(raw):.2f}"
    )
    farmer = rows.filter(
        pl.col("mode") == "outcomes", pl.col("case") == "outcome_farmer", pl.col("board_row").is_not_null()
    ).sort("seed")
    lines.append(
        "outcome farmer adjusted rank per seed (? = not placed, the row the order gives): "
        + ", ".join(
            f"{r}{'?' if status == 'not_placed' else ''}/{n}"
            for r, status, n in farmer.select("board_row", "status", "n_ranked").iter_rows()
        )
        + f" (raw token rank {', '.join(str(r) for r in farmer['rank_tokens'])})"
    )
    lines.append(in_full_line(rows))
    pairs = [(r.elasticity.get("with gamers"), r.elasticity.get("without gamers")) for r in results]
    lines.append(
        "fitted elasticity b with / without planted gamers per seed: "
        + ", ".join(f"{_num(a)} / {_num(b)}" for a, b in pairs)
        + f"; largest gap {max((abs(a - b) for a, b in pairs if a is not None and b is not None), default=0):.3f}"
    )
    return lines


def in_full_line(rows: pl.DataFrame) -> str:
    """Whose tokens above the typical counted in full on the board: in every draw (a corroborated flag) or in some (a
    lone medium flag, ``ranking.uncorroborated_in_full``), gamers and honest people apart, and how many of each were
    placed in the bottom quarter."""
    board = rows.filter(pl.col("mode") == "outcomes", pl.col("tokens_in_full_share").is_not_null())
    share = pl.col("tokens_in_full_share")
    parts = []
    for label, which in (("in every draw", share >= 1), ("in part (a lone medium flag)", (share > 0) & (share < 1))):
        counts = [
            f"{kind} {chosen.height} ({chosen['bottom_quarter'].sum()} in the bottom quarter)"
            for kind, chosen in (
                ("gamers", board.filter(which & (pl.col("kind") == "gamer"))),
                ("honest", board.filter(which & (pl.col("kind") != "gamer"))),
            )
        ]
        parts.append(f"{label}: {', '.join(counts)}")
    return "tokens above the typical counted in full " + "; ".join(parts)


def targets_table(rows: pl.DataFrame, results: list[SeedResult]) -> pl.DataFrame:
    """The targets of issues 13 and 14, each with the measured value and whether it is met."""
    behaviour, outcomes = rows.filter(pl.col("mode") == "behaviour"), rows.filter(pl.col("mode") == "outcomes")

    def share(frame: pl.DataFrame, column: str) -> float:
        return float(frame[column].mean() or 0.0) if frame.height else float("nan")

    gamers_b, gamers_o = behaviour.filter(pl.col("kind") == "gamer"), outcomes.filter(pl.col("kind") == "gamer")
    flagged = behaviour.filter(pl.col("caught"))
    precision = flagged.filter(pl.col("kind") == "gamer").height / flagged.height if flagged.height else 0.0
    heavy = behaviour.filter(
        (pl.col("kind") != "gamer")
        & ((pl.col("rank_tokens") <= 0.25 * pl.col("n_developers")) | pl.col("case").is_in(HEAVY_CASES))
    )
    edges = rows.filter(pl.col("kind") == "edge", pl.col("mode") != "honest only")
    farmer = outcomes.filter(pl.col("case") == "outcome_farmer")
    ordinary_gamers = gamers_o.filter(pl.col("case") != "outcome_farmer")
    either = gamers_o.with_columns(hit=pl.col("caught") | pl.col("bottom_quarter"))
    gaps = [
        abs(a - b)
        for r in results
        if (a := r.elasticity.get("with gamers")) is not None and (b := r.elasticity.get("without gamers")) is not None
    ]
    honest_b = behaviour.filter(pl.col("kind") == "honest")
    edges_board = edges.filter(pl.col("mode") == "outcomes")
    checks: list[tuple[str, float, str, float]] = [
        ("adaptive gamers caught, no outcomes", share(gamers_b, "caught"), ">=", 0.8),
        ("adaptive gamers caught, with outcomes", share(gamers_o, "caught"), ">=", 0.8),
        ("edge cases at high risk (runs)", edges["high_risk"].sum(), "<=", 0),
        ("ordinary honest with medium+ (no outcomes)", share(honest_b, "caught"), "<=", 0.05),
        ("behaviour-only precision", precision, ">=", 0.9),
        ("behaviour-only recall", share(gamers_b, "caught"), ">=", 0.9),
        ("honest heavy users flagged", share(heavy, "caught"), "<=", 0.05),
        ("outcome farmer in adjusted top half (runs)", farmer["top_half"].sum(), "<=", 0),
        ("edge cases in adjusted bottom quarter (runs)", edges_board["bottom_quarter"].sum(), "<=", 0),
        ("gamers with ordinary outcomes in bottom quarter", share(ordinary_gamers, "bottom_quarter"), ">=", 0.5),
        ("flags and board together catch", share(either, "hit"), ">=", 0.9),
        ("largest gap in b, with vs without gamers", max(gaps, default=float("nan")), "<=", 0.05),
    ]
    return pl.DataFrame(
        [
            (
                name,
                f"{float(value):.3g}",
                f"{op} {bound:g}",
                "yes" if (value <= bound if op == "<=" else value >= bound) else "NO",
            )
            for name, value, op, bound in checks
        ],
        schema=["target", "measured", "wanted", "met"],
        orient="row",
    )


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def markdown_table(frame: pl.DataFrame) -> str:
    """A GitHub-flavoured Markdown table."""
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join([header, rule, *body])


def main() -> None:
    """Run the seeds, print the tables, and write them to Markdown."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--quick", action="store_true", help="Two seeds, 30 developers, 2 weeks (a smoke run).")
    parser.add_argument("--developers", type=int, default=60)
    parser.add_argument("--weeks", type=int, default=6)
    parser.add_argument("--markdown", type=Path, help="Also write the tables here (e.g. benchmarks/DETECTION.md).")
    parser.add_argument("--jobs", type=int, default=1, help="Seeds run at the same time (one process each).")
    parser.add_argument("--legacy", action="store_true", help="The previous benchmark on tokenaudit.simulate.")
    args = parser.parse_args()
    if args.legacy:
        from legacy_detection import main as legacy_main  # type: ignore[import-not-found]

        sys.argv = [sys.argv[0], *[a for a in sys.argv[1:] if a != "--legacy"]]
        legacy_main()
        return
    seeds, developers, weeks = args.seeds, args.developers, args.weeks
    if args.quick:
        seeds, developers, weeks = QUICK["seeds"], QUICK["developers"], QUICK["weeks"]
    text = evaluate(seeds, AdversaryConfig(developers=developers, weeks=weeks), args.jobs)
    print(text)
    if args.markdown:
        command = "python benchmarks/detection.py " + " ".join(sys.argv[1:])
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
        at = f" at commit {commit.stdout.strip()}" if commit.returncode == 0 else ""
        args.markdown.write_text(
            f"# Adversarial detection benchmark\n\n`{command.strip()}` on {stamp}{at}.\n\n{text}\n"
        )


def seed_in_scratch(seed: int, config: AdversaryConfig) -> SeedResult:
    """:func:`run_seed` in a temporary folder, in memory where there is one (an organisation is ~10,000 small
    files, far quicker there on a busy disk), removed afterwards."""
    memory = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=memory if memory.is_dir() else None) as scratch:
        result = run_seed(seed, config, Path(scratch))
    print(f"seed {seed}: {result.seconds:.1f} s", file=sys.stderr)
    return result


def evaluate(seeds: list[int], config: AdversaryConfig, jobs: int = 1) -> str:
    """Every seed (``jobs`` at a time, each in its own process), then the tables as Markdown text."""
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(seed_in_scratch, seeds, [config] * len(seeds)))
    else:
        results = [seed_in_scratch(seed, config) for seed in seeds]
    rows = pl.concat([r.rows for r in results], how="diagonal_relaxed")
    parts = [
        f"Seeds {', '.join(map(str, seeds))}; {config.developers} developers, {config.weeks} weeks per organisation.",
        "",
        "## Adaptive gamers (caught = a medium+ flag or medium+ risk; k/n over seeds)",
        "",
        markdown_table(gamer_table(rows)),
        "",
        "## Honest edge cases",
        "",
        markdown_table(edge_table(rows)),
        "",
        "## Board placement per case and seed",
        "",
        "Row the board's order gives over the developers compared (1.0 = last); `*` placed in the bottom quarter, "
        "`?` not placed (uncertain); bottom-quarter chance in brackets.",
        "",
        markdown_table(placement_table(rows)),
        "",
        "## Gamers neither a flag nor the board caught",
        "",
        "To place one of these in the bottom quarter the board would first have to place the honest developers it "
        "holds at least as likely to be there (edge cases among them in brackets). The latent rate is the gamer's "
        "honest self's outcome rate (the generator's truth, before the case changed its tokens) as a percentile of "
        "the ordinary developers'.",
        "",
        markdown_table(missed_table(rows)),
        "",
        "## Summary",
        "",
        *[f"- {line}" for line in summary_lines(rows, results)],
        "",
        "## Targets (issues 13 and 14)",
        "",
        markdown_table(targets_table(rows, results)),
    ]
    return "\n".join(parts)


if __name__ == "__main__":
    main()
