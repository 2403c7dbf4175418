"""Runs ``harness.py`` in forks of one process that imported its SDK once.

    python fork_server.py reference|tether

Importing openai-agents takes seconds, and the porting tests run dozens of programs on
each SDK; so the tests (``program_runner.py``) start one server per interpreter,
which imports the SDK, then forks a child for each program. A child is the program's own
process as ``python harness.py ...`` would start it: its own working directory,
environment, ``sys.path`` from ``PYTHONPATH``, standard input and output files, and its
exit code (``atexit`` handlers run, so the harness writes its report).

The server reads one JSON request a line on standard input: ``argv`` (the harness's
arguments), ``cwd``, ``env``, and the paths of the ``stdin``, ``stdout`` and ``stderr``
files. It answers ``{"pid": ...}`` once the child runs (so the caller can kill it), then
``{"returncode": ...}``. It imports nothing that starts a thread, so forking is safe.
"""

from __future__ import annotations

import io
import json
import os
import runpy
import sys
import traceback
from pathlib import Path

HARNESS = Path(__file__).resolve().parent / "porting" / "harness.py"


def _child(request: dict[str, object]) -> None:
    """Become the program's process; never returns (exits with the program's code)."""
    os.chdir(str(request["cwd"]))
    env = request["env"]
    assert isinstance(env, dict)
    os.environ.clear()
    os.environ.update(env)
    sys.path[:] = [
        str(HARNESS.parent),
        *filter(None, env.get("PYTHONPATH", "").split(os.pathsep)),
        *[entry for entry in sys.path[1:] if entry],
    ]
    for fd, (name, mode) in enumerate((("stdin", os.O_RDONLY), ("stdout", 0), ("stderr", 0))):
        flags = mode if fd == 0 else os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        opened = os.open(str(request[name]), flags, 0o600)
        os.dup2(opened, fd)
        os.close(opened)
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8")
    sys.stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False), encoding="utf-8", line_buffering=True
    )
    argv = request["argv"]
    assert isinstance(argv, list)
    sys.argv = [str(HARNESS), *map(str, argv)]
    code: object = 0
    try:
        runpy.run_path(str(HARNESS), run_name="__main__")
    except SystemExit as exc:
        code = exc.code
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    raise SystemExit(code)  # the interpreter's own exit: atexit handlers run


def serve(answers: io.TextIOWrapper) -> None:
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            answers.close()
            _child(request)
        answers.write(json.dumps({"pid": pid}) + "\n")
        answers.flush()
        _, status = os.waitpid(pid, 0)
        answers.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n")
        answers.flush()


if __name__ == "__main__":
    side = sys.argv[1]
    if side == "reference":
        import agents  # noqa: F401  (the import that takes seconds, done once)
    else:
        import tether.agents  # noqa: F401
    # Answers go on a descriptor of their own: a child's standard output is its program's.
    out = io.TextIOWrapper(io.FileIO(os.dup(1), "w"), encoding="utf-8")
    serve(out)
