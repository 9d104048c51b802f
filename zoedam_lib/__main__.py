"""``python -m zoedam_lib``: see :mod:`zoedam_lib.cli`."""

import sys

from zoedam_lib.cli import main

sys.exit(main())
