"""Run directories: where a new run goes, and which earlier run ``resume`` continues.

A run of FAMILY on DATA lives in ``runs/<family>-<data>``, then ``-2``, ``-3`` ... for
later runs of the same pair (``folder:PATH`` data is named by the folder's name).
"""

from __future__ import annotations

import re
from pathlib import Path

from genzoo.errors import GenzooError


def run_slug(family: str, data: str) -> str:
    """'dcgan', 'folder:/x/faces' -> 'dcgan-faces' (safe as a directory name)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{family}-{Path(data).name if ':' in data else data}").strip("-")


def default_run_dir(family: str, data: str, root: str | Path = "runs") -> Path:
    """runs/<family>-<data>, runs/<family>-<data>-2, ... (the first that does not exist)."""
    slug = run_slug(family, data)
    base = Path(root) / slug
    if not base.exists():
        return base
    for i in range(2, 10_000):
        cand = Path(root) / f"{slug}-{i}"
        if not cand.exists():
            return cand
    raise GenzooError(f"too many runs under {root}; pass --out")


def latest_run_dir(family: str, data: str, root: str | Path = "runs") -> Path | None:
    """The most recently modified run of this family and data that has a checkpoint."""
    cands = [p for p in Path(root).glob(f"{run_slug(family, data)}*") if (p / "checkpoints").is_dir()]
    return max(cands, key=lambda p: p.stat().st_mtime) if cands else None


def run_to_resume(family: str, data: str, out: str | Path | None) -> Path:
    """``out``, or when None the latest run of ``family`` on ``data`` under runs/."""
    if out is not None:
        return Path(out)
    found = latest_run_dir(family, data)
    if found is None:
        raise GenzooError(f"no earlier {family} run on {data} under runs/ to resume; pass --out RUN")
    return found
