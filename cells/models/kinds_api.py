"""The engine as models use it: only the public API of `cells` (create, describe), imported
when called, so models keep working wherever the kinds live."""

from __future__ import annotations


def create(kind: str, **arguments):
    import cells

    return cells.create(kind, **arguments)


def describe(kind: str, **options):
    import cells

    return cells.describe(kind, **options)
