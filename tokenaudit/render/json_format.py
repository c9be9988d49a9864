"""JSON: the versioned machine interface (see ``SCHEMA_VERSION``)."""

from __future__ import annotations

import json
from typing import Any


def render(data: dict[str, Any]) -> str:
    """Indented, key order preserved, UTF-8 kept readable; ends with a newline."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
