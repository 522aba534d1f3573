"""`python -m app serve ...` is the same as `gatescope serve ...`."""

from .cli import main

raise SystemExit(main())
