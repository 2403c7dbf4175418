"""``agents.models``: which model an agent given no ``model=`` runs on.

``OPENAI_DEFAULT_MODEL`` names it, else the reference SDK's default (a GPT-5 model);
``is_gpt_5_default()`` says whether that default is a GPT-5 model that takes reasoning
settings, for a program that treats those models differently.
"""

from __future__ import annotations

from ._agent import get_default_model
from .model_settings import takes_reasoning_settings

__all__ = ["get_default_model", "is_gpt_5_default"]


def is_gpt_5_default() -> bool:
    """Whether the default model (``get_default_model()``) is a GPT-5 model that takes
    reasoning settings (a ``-chat-latest`` alias does not)."""
    return takes_reasoning_settings(get_default_model())
