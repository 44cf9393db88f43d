"""Numbers as the engine's messages show them to people."""


def format_bytes(size: int) -> str:
    """A byte count for people: ``"512 bytes"``, ``"3.2 KB"``, ``"200.0 MB"`` (1 MB = 2**20 bytes)."""
    if size < 2**10:
        return f"{size:,} bytes"
    if size < 2**20:
        return f"{size / 2**10:.1f} KB"
    return f"{size / 2**20:,.1f} MB"
