"""`python -m bot.cli`: the `cxagent` command without its installed script."""

import sys

from bot.cli import main

sys.exit(main())
