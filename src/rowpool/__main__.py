"""``python -m rowpool``: the ``rowpool`` command line (``run``, ``demo``)."""

import sys

from .cli import main

sys.exit(main())
