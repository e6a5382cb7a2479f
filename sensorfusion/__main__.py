"""``python -m sensorfusion``: the ``sensorfusion`` command."""

import sys

from .cli import main

sys.exit(main())
