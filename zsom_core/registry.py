"""Choices by name: each registry maps a public name to what implements it (a kernel code,
a function, an object), and a ``*_LABELS`` dict beside it gives each name the label a
user reads. A name a registry does not hold raises ``ValueError`` listing the valid ones.
"""

from __future__ import annotations

from collections.abc import Collection


def check_name(name, valid: Collection[str], kind: str, kinds: str) -> str:
    """``name`` if it is one of ``valid``; otherwise ``ValueError`` naming the valid ones.

    A value that is not a string (a list sent by hand, say) is an unknown name too, not
    a ``TypeError`` from looking it up in a dict.
    """
    if not isinstance(name, str) or name not in valid:
        raise ValueError(f"unknown {kind} {name!r}; valid {kinds}: {', '.join(valid)}")
    return name
