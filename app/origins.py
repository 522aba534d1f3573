"""Where a browser request comes from: one rule for the HTTP middleware and the WebSockets."""

from __future__ import annotations

from urllib.parse import urlsplit


def same_origin(origin: str, host: str | None, secure: bool, allowed: tuple[str, ...]) -> bool:
    """Whether a browser's Origin is this server (the Host it asked for) or a listed one."""
    if origin in allowed:
        return True
    if not host:
        return False
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https"):
        return False
    try:
        origin_port = parts.port or (443 if parts.scheme == "https" else 80)
        host_parts = urlsplit(f"//{host}")
        host_port = host_parts.port or (443 if secure else 80)
    except ValueError:  # a malformed port
        return False
    return (parts.hostname or "", origin_port) == (host_parts.hostname or "", host_port)
