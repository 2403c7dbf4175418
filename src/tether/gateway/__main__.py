"""``python -m tether.gateway CONFIG``: see ``tether.gateway.main``."""

from __future__ import annotations

import sys

from ._server import main

if __name__ == "__main__":
    sys.exit(main())
