"""A Redis URL as the app takes it and shows it: checked, and never with its password."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

ENVIRONMENT_VARIABLE = "ZSOM_REDIS_URL"


def redacted(url: str) -> str:
    """``url`` with its password (and user) replaced by ``***``: what logs and pages may show."""
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"***@{host}"))


def checked(url) -> str:
    """``url`` if it names a Redis server; ``ValueError`` (without its password) if not."""
    parts = urlsplit(url) if isinstance(url, str) else None
    networked = parts is not None and parts.scheme in ("redis", "rediss") and parts.hostname
    if not (networked or parts is not None and parts.scheme == "unix"):
        raise ValueError(f"not a Redis URL: {redacted(str(url))!r} (expected redis://[:password@]host:port/db)")
    return url
