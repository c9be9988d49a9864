"""Test set-up shared by every test: a plain, wide terminal and no format or debug settings from the caller's
environment. Helpers live in :mod:`tests.helpers`."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("TOKENAUDIT_FORMAT", raising=False)
    monkeypatch.delenv("TOKENAUDIT_DEBUG", raising=False)
