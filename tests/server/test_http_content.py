"""An output review over HTTP of a tool output that is content parts (a text and an image):
the inbox shows the parts, and the model reads them once released."""

from __future__ import annotations

import json

import httpx

from .conftest import Served
from .test_http import fingerprint_of, paused_run, resume_decided
from .weather_agents import CHART_URL


async def test_an_image_output_is_shown_for_review_and_released(server: Served) -> None:
    run_id = await paused_run(server, "city:chart1")
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers("ana")) as client:
        [pending] = (await client.get(f"/api/runs/{run_id}")).json()["pending"]
        assert pending["kind"] == "output_review"
        assert json.loads(pending["output"]) == [
            {"type": "input_text", "text": "Chart for chart1"},
            {"type": "input_image", "image_url": CHART_URL},
        ]
        page = await client.get(f"/runs/{run_id}/calls/call_0")
        assert 'id="output"' in page.text and CHART_URL in page.text
        body = {
            "verdict": "released",
            "fingerprint": await fingerprint_of(server, run_id, "call_0"),
        }
        reviewed = await client.post(f"/api/runs/{run_id}/calls/call_0/review", json=body)
        assert reviewed.status_code == 200, reviewed.text
        assert await resume_decided(server) == 1
        shown = (await client.get(f"/api/runs/{run_id}")).json()
        run_page = await client.get(f"/runs/{run_id}")
    assert shown["output"] == f"Done: Chart for chart1 + {CHART_URL}"
    assert CHART_URL in run_page.text  # the conversation shows the output's parts
    assert server.tool_runs() == ["get_chart chart1"]
