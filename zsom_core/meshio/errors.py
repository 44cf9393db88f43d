"""The one exception the mesh loaders raise, and the file name used in its messages."""

from __future__ import annotations

import unicodedata

# Long enough for any real file name, short enough to keep a message on one line.
_MAX_NAME_LENGTH = 120
_MAX_DETAIL_LENGTH = 160


class MeshError(ValueError):
    """A mesh file could not be loaded; the message says which file and why, for the user."""


def sanitise_filename(filename: object) -> str:
    """The base name of an uploaded file, safe to show in a message.

    Directory components (``/`` and ``\\``), control and format characters (which
    could forge line breaks or reverse the text direction) are removed, and very long
    names are shortened. Returns ``"upload"`` when nothing printable is left.
    """
    text = filename if isinstance(filename, str) else str(filename)
    base = text.replace("\\", "/").rsplit("/", 1)[-1]
    printable = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    if len(printable) > _MAX_NAME_LENGTH:
        printable = printable[: _MAX_NAME_LENGTH - 3] + "..."
    return printable or "upload"


def describe_exception(exc: BaseException) -> str:
    """A short, printable one-line summary of a parser's exception, for a message's tail."""
    detail = str(exc).splitlines()[0] if str(exc) else ""
    detail = "".join(ch for ch in detail if unicodedata.category(ch)[0] != "C")
    if len(detail) > _MAX_DETAIL_LENGTH:
        detail = detail[: _MAX_DETAIL_LENGTH - 3] + "..."
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
