"""call4agents' side of ``once_only.py``, run in its own environment (never tether's).

    python once_only_call4agents.py FOLDER CALLS LABEL

In ``FOLDER`` (its run record, ``.c4a/``): one run of ``CALLS`` approved actions, each a
"yes" recorded for its exact arguments (``c4a.approve``) and the call of an
``@c4a.effect(approval=True)`` no-op that records it ran. Then every call again, which
must return the recorded result without running. Prints one JSON line: the seconds the
approved calls took, how often the body ran, and whether the repeats ran nothing.
"""

from __future__ import annotations

import json
import os
import sys
import time

import call4agents as c4a

RAN: list[int] = []


@c4a.effect(approval=True, name="mark")
def mark(i: int) -> str:
    """The no-op tool: it records that it ran."""
    RAN.append(i)
    return "marked"


def main(folder: str, calls: int, label: str) -> None:
    os.chdir(folder)
    c4a.init(os.path.join(folder, f"c4a-{label}.sqlite"))
    with c4a.run(f"bench-{label}"):
        mark_warm = c4a.effect(approval=True, name="warm")(lambda: "warm")
        c4a.approve(mark_warm)
        mark_warm()  # the connection and the secret, before the clock starts
        began = time.perf_counter()
        for i in range(calls):
            c4a.approve(mark, i=i)
            mark(i)
        seconds = time.perf_counter() - began
        ran_once = len(RAN) == calls
        repeats = [mark(i) for i in range(calls)]  # a retry or a resume: recorded results
    once_only = ran_once and len(RAN) == calls and set(repeats) == {"marked"}
    print(json.dumps({"seconds": seconds, "calls": calls, "ran": len(RAN), "once_only": once_only}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
