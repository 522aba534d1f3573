"""gatescope's server: a FastAPI app over the `cells` engine.

Rooms: `app/core/` (settings, the `gatescope` command, the app factory), `app/api/` (routes,
dependencies, schemas, errors, middleware, the page), `app/sessions/` (the session service,
its config, sequences, uploads, the data directory, caches) and `app/stream/` (the
WebSocket player and the wire format).
"""

from __future__ import annotations


def __getattr__(name: str):
    # `from app import create_app` without importing FastAPI for `gatescope --help`.
    if name == "create_app":
        from app.core.factory import create_app

        return create_app
    if name == "show":  # app.show(model_or_path, sequence) -> URL, for notebooks
        from app.core.launcher import show

        return show
    raise AttributeError(f"module 'app' has no attribute {name!r}")
