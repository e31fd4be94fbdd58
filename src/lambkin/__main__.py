"""Runs the `lambkin` command with `python -m lambkin`."""

from lambkin.cli.main import main

raise SystemExit(main())
