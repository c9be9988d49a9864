"""The error boundary: every library error becomes one line on stderr and its documented exit code."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import typer

from tokenaudit.console import stderr_console
from tokenaudit.errors import ExitCode, TokenauditError
from tokenaudit.privacy import Scrubber, withhold


@dataclass
class ErrorLine:
    """How :func:`user_errors` shows a message. Under ``--pseudonymize``/``--teams-only`` (``private_inputs`` set)
    the line withholds the inputs, every other path and every quoted value, since it may name a person's folder or
    repeat a value from a person's row; once the output's scrubber exists it replaces names too."""

    private_inputs: list[str] | None = None
    scrubber: Scrubber | None = None

    def shown(self, message: str) -> str:
        if self.scrubber is not None:
            message = self.scrubber.text(message)
        return withhold(message, self.private_inputs) if self.private_inputs is not None else message


def private_paths(inputs: list[str], outcomes: list[str] | None, private: bool) -> list[str] | None:
    """The paths an error line must withhold under ``--pseudonymize``/``--teams-only``; None otherwise."""
    return [*inputs, *(outcomes or [])] if private else None


@contextmanager
def user_errors(private_inputs: list[str] | None = None) -> Iterator[ErrorLine]:
    """Turn library errors into one line on stderr and the documented exit code."""
    line = ErrorLine(private_inputs)
    try:
        yield line
    except TokenauditError as exc:
        stderr_console().print(f"tokenaudit: error: {line.shown(exc.message)}", markup=False)
        raise typer.Exit(int(exc.exit_code)) from None
    except typer.Exit:
        raise
    except BrokenPipeError:
        # The reader of our output closed it early (`| head`): stop without a message, as SIGPIPE would. Point
        # stdout at /dev/null so the interpreter's final flush does not complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(int(ExitCode.BROKEN_PIPE)) from None
    except RecursionError:
        # Only JSON parsing recurses: a document nested deeper than Python's parser goes (about 1,000 levels).
        message = "tokenaudit: error: an input holds JSON nested too deeply to read (more than about 1,000 levels)"
        stderr_console().print(message, markup=False)
        raise typer.Exit(int(ExitCode.UNREADABLE_INPUT)) from None
    except KeyboardInterrupt:
        stderr_console().print("tokenaudit: interrupted", markup=False)
        raise typer.Exit(130) from None
    except Exception as exc:
        if os.environ.get("TOKENAUDIT_DEBUG"):
            raise
        shown = line.shown(str(exc))
        message = f"tokenaudit: internal error: {type(exc).__name__}: {shown} (set TOKENAUDIT_DEBUG=1 for details)"
        stderr_console().print(message, markup=False)
        raise typer.Exit(int(ExitCode.INTERNAL)) from None
