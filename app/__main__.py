"""`python -m app serve ...` is the same as `gatescope serve ...`."""

from app.core.cli import main

raise SystemExit(main())
