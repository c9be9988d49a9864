"""Prompt text: varied honest requests, paraphrases of one task, scripted loop prompts, slash commands.

Only the readers see this text (it is in the transcripts, as in real ones); it exists so that detectors
working on prompt signatures meet the near-duplicates a gamer would produce and the templates an honest
team uses.
"""

from __future__ import annotations

import random

_VERBS = ("fix", "add", "refactor", "investigate", "explain", "write tests for", "speed up", "document", "review")
_OBJECTS = (
    "the retry logic",
    "the pagination bug",
    "the CSV export",
    "the login flow",
    "the flaky integration test",
    "the migration script",
    "error handling",
    "the cache invalidation",
    "the rate limiter",
    "the webhook handler",
    "the settings page",
    "the billing job",
    "the search index",
    "the feature flag cleanup",
)
_PLACES = ("api", "worker", "billing", "auth", "frontend", "ingest", "reports", "notifications", "admin", "sdk")
_DETAILS = (
    "it fails when the list is empty",
    "customers see a 500 after the last deploy",
    "keep the public interface unchanged",
    "the test in CI times out about one run in ten",
    "use the existing helper if there is one",
    "look at how orders does it first",
    "the log says connection reset by peer",
    "we need this before the release on Thursday",
    "do not touch the generated files",
    "make the error message say which field is wrong",
)
_FOLLOW_UPS = (
    "ok, now run the tests",
    "that broke the build, look at the error",
    "can you make it smaller?",
    "why did you change that file?",
    "good. commit it",
    "also handle the null case",
    "revert the last change and try a different approach",
    "add a test for that",
    "what does this function do exactly?",
    "rename it to something clearer",
)


def honest_prompt(rng: random.Random) -> str:
    """A request a developer types: varied wording, concrete details, file names and numbers."""
    verb, thing, place = rng.choice(_VERBS), rng.choice(_OBJECTS), rng.choice(_PLACES)
    text = f"{verb} {thing} in {place}/{rng.choice(('handlers', 'core', 'models', 'views', 'jobs'))}.py"
    if rng.random() < 0.7:
        text += f", {rng.choice(_DETAILS)}"
    if rng.random() < 0.3:
        text += f" (ticket {rng.choice(('PAY', 'API', 'OPS', 'WEB'))}-{rng.randint(100, 999)})"
    return text[0].upper() + text[1:]


def follow_up(rng: random.Random) -> str:
    """A short follow-up prompt inside a session."""
    return rng.choice(_FOLLOW_UPS)


# One task, many wordings: the paraphrasing gamer's openers.
_PARAPHRASE_SLOTS: tuple[tuple[str, ...], ...] = (
    ("", "Please ", "Can you ", "I need you to ", "Go ahead and ", "Could you "),
    ("analyse", "analyze", "go through", "review", "inspect", "examine", "look over"),
    (" the whole", " the entire", " every file in the", " all of the", " the full"),
    (" payments service", " payments codebase", " payments repo", " payment service code"),
    (" and", ", then", " and then", "; after that"),
    (" list", " report", " summarise", " write up", " enumerate"),
    (
        " every possible improvement",
        " all improvements you can find",
        " any improvements worth making",
        " everything that could be better",
    ),
    ("", " in detail", " thoroughly", " with file references", " step by step"),
    (".", "", "!", ". Be exhaustive.", ". Take your time."),
)


def paraphrase(rng: random.Random) -> str:
    """One wording of the same task, built slot by slot so no two openers need be identical."""
    text = "".join(rng.choice(slot) for slot in _PARAPHRASE_SLOTS).strip()
    return text[0].upper() + text[1:]


_SCRIPTED = (
    "Run the test suite and fix any failures. Then look for code smells in src/ and fix them.",
    "Continue improving the codebase: find the next thing to refactor and do it.",
    "Check the repository for TODO comments and resolve one.",
)


def scripted_prompt(rng: random.Random, variants: int) -> str:
    """A loop's prompt: one of a script's few fixed texts."""
    return _SCRIPTED[rng.randrange(max(1, min(variants, len(_SCRIPTED))))]


_CONTINUE = ("continue", "keep going", "Continue.", "go on", "next", "keep improving", "continue please", "more")


def keep_going(rng: random.Random) -> str:
    """The drip prompt that keeps a long session spending."""
    return rng.choice(_CONTINUE)


def review_command(number: int) -> str:
    """A ``/review`` slash command as Claude Code records the user's line."""
    return (
        "<command-message>review is running…</command-message>\n<command-name>/review</command-name>\n"
        f"<command-args>{number}</command-args>"
    )


def incident_prompt(rng: random.Random) -> str:
    """An on-call engineer at night."""
    alert = rng.choice(("p99 latency", "error rate", "queue depth", "disk usage", "5xx count"))
    service = rng.choice(_PLACES)
    return f"Paged: {alert} alert on {service} since {rng.randint(0, 59):02d} min ago, help me find the cause"
