"""Decide a mesh file's format from its content; the extension is only a hint.

Extensions lie (an STL renamed ``.obj``) and headers lie too: a binary STL's free-form
80-byte header often starts with ``solid``, the keyword that opens an ASCII STL. The
length test settles it: a binary STL is exactly 84 + 50 * (triangle count) bytes.
"""

from __future__ import annotations

import re
import struct

from ..text import format_bytes
from .errors import MeshError

STL_BINARY = "stl_binary"
STL_ASCII = "stl_ascii"
PLY = "ply"
OBJ = "obj"

SUPPORTED_EXTENSIONS = (".obj", ".stl", ".ply")

STL_HEADER_BYTES = 80
STL_PREAMBLE_BYTES = STL_HEADER_BYTES + 4  # header + uint32 triangle count
STL_RECORD_BYTES = 50  # normal, three corners (12 float32) + uint16 attribute

# Statements that may open an OBJ file (after blank and comment lines).
_OBJ_KEYWORDS = frozenset(
    {b"v", b"vn", b"vt", b"vp", b"f", b"l", b"p", b"o", b"g", b"s", b"usemtl", b"mtllib"}
)
_TEXT_PROBE_BYTES = 1 << 16
_UTF8_BOM = b"\xef\xbb\xbf"
_ASCII_STL_BODY = re.compile(rb"(?i)\b(?:facet|endsolid)\b")


def extension_of(name: str) -> str:
    """The lower-case extension of a file name, with its dot (``".stl"``), or ``""``."""
    stem, dot, suffix = name.rpartition(".")
    return f".{suffix.lower()}" if dot and stem else ""


def stl_binary_triangle_count(data: bytes) -> int | None:
    """The triangle count in a binary STL's header, or None if data is shorter than 84 bytes."""
    if len(data) < STL_PREAMBLE_BYTES:
        return None
    return struct.unpack_from("<I", data, STL_HEADER_BYTES)[0]


def is_binary_stl(data: bytes) -> bool:
    """True when the length is exactly what the header's triangle count requires."""
    count = stl_binary_triangle_count(data)
    return count is not None and len(data) == STL_PREAMBLE_BYTES + STL_RECORD_BYTES * count


def detect_format(data: bytes, name: str) -> str:
    """One of STL_BINARY, STL_ASCII, PLY, OBJ for non-empty ``data``; raises MeshError otherwise.

    name: the sanitised file name, used for the extension hint and in messages.
    """
    if is_binary_stl(data):
        return STL_BINARY

    extension = extension_of(name)
    probe = data[:_TEXT_PROBE_BYTES]
    looks_like_text = b"\x00" not in probe
    head = probe.removeprefix(_UTF8_BOM).lstrip()

    if re.match(rb"(?i)ply[ \t]*\r?\n", head):
        return PLY
    if looks_like_text and head[:5].lower() == b"solid" and _ASCII_STL_BODY.search(data):
        return STL_ASCII
    if looks_like_text:
        first_statement = _first_statement(head)
        if first_statement in _OBJ_KEYWORDS or (first_statement is None and extension == ".obj"):
            return OBJ

    raise MeshError(_unrecognised_message(data, name, extension, looks_like_text))


def _first_statement(text: bytes) -> bytes | None:
    """The first word of the first line that is neither blank nor a ``#`` comment."""
    for line in text.splitlines():
        words = line.split(None, 1)
        if words and not words[0].startswith(b"#"):
            return words[0].lower()
    return None


def _unrecognised_message(data: bytes, name: str, extension: str, looks_like_text: bool) -> str:
    """Explain, as precisely as the bytes allow, why no loader fits."""
    if extension == ".stl":
        count = stl_binary_triangle_count(data)
        if count is None:
            return (
                f"{name}: only {format_bytes(len(data))}, too short for a binary STL "
                f"(at least {STL_PREAMBLE_BYTES} bytes) and not an ASCII STL either. "
                "The file is truncated or not an STL."
            )
        if not looks_like_text:
            expected = STL_PREAMBLE_BYTES + STL_RECORD_BYTES * count
            return (
                f"{name}: the binary STL header announces {count:,} triangles "
                f"({expected:,} bytes) but the file has {len(data):,} bytes. "
                "The file is truncated or corrupt; export it again."
            )
        return (
            f"{name}: not a valid STL. An ASCII STL starts with 'solid' and lists "
            "'facet' blocks; export it again as binary or ASCII STL."
        )
    if extension == ".ply":
        return f"{name}: not a valid PLY file: a PLY file starts with the line 'ply'."
    if extension == ".obj":
        return (
            f"{name}: not a valid OBJ file: an OBJ file is text with lines such as "
            "'v x y z' and 'f i j k'."
        )
    shown = extension or "(no extension)"
    return (
        f"{name}: unrecognised mesh format {shown}. Upload an OBJ, STL (binary or "
        "ASCII) or PLY file."
    )
