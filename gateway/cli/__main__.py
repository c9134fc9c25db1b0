"""`python -m gateway.cli`: the `learnline` command (the supervised worker runs so)."""

import os

from gateway.cli.main import main

os.environ.setdefault("PYTHONUNBUFFERED", "1")
main()
