"""Error hierarchy and exit codes.

Every failure the user can cause maps to one class and one exit code, so the CLI can catch
``TokenauditError`` once and print a single line instead of a traceback.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Documented process exit codes (README "Exit codes")."""

    OK = 0
    FLAGS_AT_OR_ABOVE_FAIL_ON = 1
    USAGE_OR_POLICY = 2
    UNREADABLE_INPUT = 3
    REJECTED_ROWS_STRICT = 4
    UNMATCHED_IDENTITIES_STRICT = 5
    OUTPUT_ENVIRONMENT = 6
    EMPTY_PERIOD_FAIL_ON = 7
    INTERNAL = 70
    BROKEN_PIPE = 141


class TokenauditError(Exception):
    """Base class: a one-line, user-facing message plus the exit code it maps to."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(TokenauditError):
    """Bad command-line arguments (an unknown --by key, a bad date)."""

    exit_code = ExitCode.USAGE_OR_POLICY


class PolicyError(TokenauditError):
    """The policy file cannot be read or does not validate."""

    exit_code = ExitCode.USAGE_OR_POLICY


class InputError(TokenauditError):
    """An input file is missing, unreadable, of unknown shape or lacks a required column."""

    exit_code = ExitCode.UNREADABLE_INPUT


class StrictRejectError(TokenauditError):
    """``--strict`` was given and at least one row was rejected."""

    exit_code = ExitCode.REJECTED_ROWS_STRICT


class UnmatchedIdentityError(TokenauditError):
    """``--strict-identities`` was given and some identity is not in the identity map."""

    exit_code = ExitCode.UNMATCHED_IDENTITIES_STRICT


class OutputEnvironmentError(TokenauditError):
    """The output could not be written for a reason of the machine (full disk, read-only file system, I/O error)."""

    exit_code = ExitCode.OUTPUT_ENVIRONMENT
