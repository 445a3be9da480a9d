"""``python -m backtrader_channels``."""

import sys

from .cli import main

sys.exit(main())
