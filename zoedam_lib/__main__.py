"""``python -m zoedam_lib``: see :mod:`zoedam_lib.cli`."""

import sys

from .cli import main

sys.exit(main())
