"""The switch that keeps tests from calling a real model: ``tether.models.ALLOW_MODEL_REQUESTS``."""

from __future__ import annotations

import sys

from ..errors import ModelNotAllowedError

__all__ = ["check_model_requests_allowed"]


def check_model_requests_allowed(model_name: str) -> None:
    """Raise ``ModelNotAllowedError`` if real model requests are switched off."""
    models = sys.modules["tether.models"]
    if not getattr(models, "ALLOW_MODEL_REQUESTS", True):
        raise ModelNotAllowedError(
            f"A request to model {model_name!r} was refused because "
            "tether.models.ALLOW_MODEL_REQUESTS is False. Use tether.testing.ScriptedModel "
            "in tests, or set ALLOW_MODEL_REQUESTS = True for a test that means to call a model."
        )
