"""Entry point of the deploy checks: ``python deploy/checks/deploy_checks.py SUBCOMMAND``.

The checks live in the typed package ``pa_deploy_checks`` next to this file (one module per
artifact); ``--help`` lists the subcommands."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pa_deploy_checks import main

if __name__ == "__main__":
    sys.exit(main())
