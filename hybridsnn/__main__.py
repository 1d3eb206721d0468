"""``python -m hybridsnn`` runs the command line."""

from hybridsnn.cli import main

raise SystemExit(main())
