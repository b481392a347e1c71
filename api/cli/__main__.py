"""`python -m api.cli`: the same entry point as the `inquiry-ledger` script."""

import sys

from api.cli import main

sys.exit(main())
