"""``agents.memory.session_settings``: ``SessionSettings``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

__all__ = ["SessionSettings"]


@dataclass
class SessionSettings:
    """Settings a session may carry (``limit``: how many items to read back; ``None``:
    all). tether's sessions take ``limit`` on ``get_items``; this is the reference SDK's
    holder for it, for sessions written against the reference."""

    limit: int | None = None

    def resolve(self, override: SessionSettings | dict[str, Any] | None) -> SessionSettings:
        """These settings with every non-``None`` value of ``override`` on top."""
        if override is None:
            return self
        values = override if isinstance(override, dict) else dataclasses.asdict(override)
        return dataclasses.replace(self, **{k: v for k, v in values.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
