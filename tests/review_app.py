"""An output review across processes, through a run store:
``python review_app.py STORE_FILE RUN_FILE start|review VERDICT|resume``.

Each step is its own process: the run, the review and the resumed run share nothing but
the SQLite run store.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from tether import Agent, Runner, function_tool
from tether.store import SQLiteRunStore, load_state, save_state
from tether.testing import ScriptedModel, message, tool_call


def counted(counter: Path) -> int:
    return int(counter.read_text()) if counter.exists() else 0


async def main(store_file: Path, run_file: Path, step: str, verdict: str) -> str:
    counter = run_file.with_suffix(".runs")

    @function_tool(review_output=True)
    def lookup(email: str) -> str:
        """Look a customer up."""
        counter.write_text(str(counted(counter) + 1))  # runs are counted across processes
        return f"{email}: card 4111-1111-1111-1111"

    model = ScriptedModel([[tool_call("lookup", {"email": "a@example.com"}, "c1")], message("ok")])
    if step == "resume":
        model = ScriptedModel([message("ok")])
    agent = Agent(name="Support", model=model, tools=[lookup])
    async with SQLiteRunStore(store_file) as store:
        if step == "start":
            result = await Runner.run(agent, "Who is a@example.com?", store=store)
            run_file.write_text(result.run_id)
            [row] = await store.pending_approvals(run_id=result.run_id)
            return f"{row.kind} {[item.kind for item in result.interruptions]}"
        run_id = run_file.read_text()
        if step == "review":
            state = await load_state(store, run_id, agent)
            [item] = state.interruptions
            if verdict == "released":
                state.release(item, by="ana")
            elif verdict == "replaced":
                state.replace_output(item, "a@example.com: card ****1111", by="ana")
            else:
                state.withhold(item, message="Withheld: card data.", by="ana")
            await save_state(store, state)
            return "reviewed"
        result = await Runner.resume(agent, run_id, store=store)
        sent = [dict(i) for i in model.requests[-1].input if i.get("type") != "message"]
        return json.dumps({"runs": counted(counter), "sent": sent, "final": result.final_output})


if __name__ == "__main__":
    store_file, run_file, step = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    print(asyncio.run(main(store_file, run_file, step, sys.argv[4] if len(sys.argv) > 4 else "")))
