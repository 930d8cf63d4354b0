"""`python -m payflow.cli …` is the `payflow` command."""

from payflow.cli import main

raise SystemExit(main())
