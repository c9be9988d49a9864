"""The one output step: rejects and ``--strict`` settled, the result written (stdout or ``--output``), then the
diagnostics on stderr."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tokenaudit import app
from tokenaudit.audit import AuditResult
from tokenaudit.cli.options import InputOptions, OutputOptions
from tokenaudit.console import stderr_console, wants_color
from tokenaudit.documents import Document, TableView, outcome_notes, quality_notes
from tokenaudit.errors import UsageError
from tokenaudit.ingest import LoadedEvents
from tokenaudit.output import emit, write_file
from tokenaudit.privacy import Scrubber
from tokenaudit.render import Format, render
from tokenaudit.render.csv_format import render_table as render_csv


def choose_format(chosen: Format | None, output: Path | None) -> Format:
    """``--format``, else ``TOKENAUDIT_FORMAT``, else a table on a terminal and JSON elsewhere."""
    if chosen is not None:
        return chosen
    env = os.environ.get("TOKENAUDIT_FORMAT")
    if env:
        try:
            return Format(env)
        except ValueError:
            msg = f"TOKENAUDIT_FORMAT: unknown format {env!r}; expected one of: {', '.join(f.value for f in Format)}"
            raise UsageError(msg) from None
    return Format.TABLE if output is None and sys.stdout.isatty() else Format.JSON


def on_terminal(output: Path | None) -> bool:
    """The result goes to a terminal (so a table, colour or a text page suits it)."""
    return output is None and sys.stdout.isatty()


@dataclass(frozen=True)
class Run:
    """One command's loaded events, audit (for commands that audit) and the output's scrubber."""

    loaded: LoadedEvents
    result: AuditResult | None = None
    scrubber: Scrubber | None = None

    def scrub(self, text: str) -> str:
        return self.scrubber.text(text) if self.scrubber is not None else text


def settle(run: Run, inputs: InputOptions) -> str:
    """Write ``--rejects`` (usage and outcome rows), enforce ``--strict`` and ``--strict-identities``; return the
    first rejected row ('' without one) for the diagnostics."""
    if inputs.strict_identities:
        app.check_identities(run.loaded, run.result)
    rejected = app.rejected_rows(run.loaded, run.result)
    if inputs.rejects is not None and run.scrubber is not None:
        msg = "--rejects writes raw input rows, names included; it cannot be combined with --pseudonymize"
        raise UsageError(msg)
    if inputs.rejects is not None:
        rows = [list(row) for row in rejected.iter_rows()]
        write_file(inputs.rejects, render_csv(TableView("rejects", list(rejected.columns), rows)))
    if inputs.strict:
        app.check_strict(run.loaded, rejected, run.scrubber)
    return app.first_reject(rejected, run.scrubber)


def deliver(content: str, output: OutputOptions, notes: Sequence[str] = ()) -> None:
    """Write the result, then (unless ``--quiet``) each note and where the result went to stderr."""
    emit(content, output.output)
    if not output.quiet:
        console = stderr_console()
        for note in notes:
            console.print(f"tokenaudit: {note}", markup=False)
        if output.output is not None:
            console.print(f"tokenaudit: wrote {output.output}", markup=False)


def finish_document(
    run: Run, document: Document[Any], chosen: Format, inputs: InputOptions, output: OutputOptions
) -> None:
    """The output step of the commands whose result is a :class:`~tokenaudit.documents.Document`."""
    first_reject = settle(run, inputs)
    diagnostics = quality_notes(run.loaded.quality) + (outcome_notes(run.result) if run.result else [])
    headline = document.table.headline if chosen is not Format.TABLE else None  # the table shows it
    if chosen is Format.TABLE:  # data on stdout, diagnostics on stderr: the table keeps its content notes
        kept = [note for note in document.table.notes if note not in diagnostics]
        document = replace(document, table=replace(document.table, notes=kept))
    if run.scrubber is not None:
        document = Document(
            data=run.scrubber.scrub(document.data),
            table=run.scrubber.scrub_table(document.table),
            records=run.scrubber.scrub(document.records),
        )
    notes = [run.scrub(note) for note in ([f"warning: {headline}"] if headline else []) + diagnostics]
    if first_reject and inputs.rejects is None:
        notes.append(f"first rejected row: {first_reject}")
    color = output.output is None and wants_color(sys.stdout)
    deliver(render(document, chosen, color=color), output, notes)
