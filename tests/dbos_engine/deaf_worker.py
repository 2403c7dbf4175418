"""A worker that hears no wake-up (as if every notification were lost): only the run
queue's poll gives it runs. ``python deaf_worker.py module:app --executor-id ID``."""

from __future__ import annotations

import sys

from tether.dbos import _wake
from tether.dbos._worker import main

_wake.supported = lambda: False  # the app starts no listener and claims only by the poll

if __name__ == "__main__":
    sys.exit(main(["worker", *sys.argv[1:]]))
