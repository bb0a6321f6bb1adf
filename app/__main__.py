"""`python -m app`: the gateway's commands (app/cli/)."""

import sys

from app.cli import main

sys.exit(main())
