"""``python -m tether.dbos worker module:app``: a worker process."""

import sys

from ._worker import main

sys.exit(main())
