"""User-facing errors.

Anything a user can cause (a bad name, a missing file, a config that does not fit)
raises :class:`GenzooError` with a one-line message that says what was wrong and what
to do. The CLI prints that line and exits non-zero, with no traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GenzooError(Exception):
    """A problem the user can fix; the message is shown as-is, on one line."""


class UnknownNameError(GenzooError, KeyError):
    """An unknown registry name. Subclasses KeyError so dict-style callers still work."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def unknown_name(kind: str, name: str, known: Iterable[str], hint: str = "") -> UnknownNameError:
    """Build "unknown family 'dcgn'; did you mean 'dcgan'? installed: ..." errors."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    msg = f"unknown {kind} '{name}'"
    if close:
        msg += "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
    msg += f" (installed: {', '.join(known) if known else 'none'})"
    if hint:
        msg += f". {hint}"
    return UnknownNameError(msg)
