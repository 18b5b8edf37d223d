"""Hub names and settings, shared by model loading (genzoo.hub) and Hub datasets (genzoo.data.hf).

Kept apart from genzoo.hub, which imports image and model code, so that genzoo.data can use it
without an import cycle.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from genzoo.errors import GenzooError

REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
#: A branch or tag name (segments of letters, digits, '_', '.', '+', '-', not starting with '.', '+' or '-',
#: joined by '/'; refs/pr/1 included) or a commit id.
REVISION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*(/[A-Za-z0-9_][A-Za-z0-9_.+-]*)*$")
COMMIT = re.compile(r"^[0-9a-f]{40}$")


def check_repo_id(repo_id: str) -> None:
    """Refuse a Hub repo id that is not USER/MODEL (it names a folder in the cache)."""
    if not REPO_ID.match(repo_id) or ".." in repo_id or "--" in repo_id or len(repo_id) > 96:
        raise GenzooError(f"{repo_id!r} is not a Hub repo id; use USER/MODEL (letters, digits, '-', '_', '.')")


def check_revision(revision: str | None) -> None:
    """Refuse a revision that is not a branch, tag or commit name: it becomes a path in the Hub cache,
    so '..' segments, absolute paths and control characters must never reach it."""
    if revision is None:
        return
    if not REVISION.match(revision) or any(seg in (".", "..") for seg in revision.split("/")) or len(revision) > 256:
        raise GenzooError(
            f"{revision!r} is not a Hub revision; use a branch or tag name (letters, digits, '_', '.', '+', '-', "
            "'/' between parts, no '..') or a 40-digit commit id"
        )


@dataclass(frozen=True)
class HubSettings:
    """huggingface_hub's environment variables, read now (see genzoo.hub's docstring)."""

    endpoint: str | None
    cache_dir: str | None
    offline: bool

    @classmethod
    def from_env(cls) -> HubSettings:
        env = os.environ
        endpoint = env.get("HF_ENDPOINT", "").strip().rstrip("/") or None
        cache = env.get("HF_HUB_CACHE") or None
        if not cache and env.get("HF_HOME"):
            cache = os.path.join(os.path.expanduser(os.path.expandvars(env["HF_HOME"])), "hub")
        offline = env.get("HF_HUB_OFFLINE", "").strip().upper() in ("1", "ON", "YES", "TRUE")
        try:
            from huggingface_hub import constants  # here: slow to import; only Hub use needs it

            offline = offline or bool(constants.HF_HUB_OFFLINE)
        except ImportError:  # pragma: no cover - a core dependency
            pass
        return cls(endpoint, cache, offline)

    def where(self) -> str:
        if self.endpoint:
            return self.endpoint
        from huggingface_hub import constants  # here: slow to import; only Hub use needs it

        return constants.ENDPOINT
