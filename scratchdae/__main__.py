"""``python -m scratchdae``: the same as the ``scratchdae`` command."""
import sys

from .cli import main

sys.exit(main())
