"""``python -m tether.cli``: the ``tether`` command line."""

from . import main

raise SystemExit(main())
