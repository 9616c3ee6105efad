"""``python -m scratchdae.cli``: the same as the ``scratchdae`` command."""
import sys

from . import main

sys.exit(main())
