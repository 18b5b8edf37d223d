"""One writer per run directory: an OS file lock on ``RUN/.lock`` held for the life of a run.

The lock is ``flock`` on the file, so the OS drops it whenever the holder exits, however it
exits (a SIGKILLed run never blocks the next one). The holder's PID is written into the file
so a refused writer can say who holds it. The file itself stays (removing it while another
process may be opening it would let two writers lock two different files).

Once the lock is held no other genzoo process writes in the run directory, so temporaries
that dead writers left behind (a kill between a temp write and its rename) can be removed.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from genzoo.errors import GenzooError

try:
    import fcntl
except ImportError:  # Windows has no flock: runs there go unlocked (as before the lock existed)
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".lock"
# genzoo.io.atomic_path's temporaries: ".NAME.pidPID.RANDOM.tmp" (older versions: ".NAME.RANDOM.tmp")
_TMP_FILE = re.compile(r"^\..+?(?:\.pid(\d+))?\.[a-z0-9_]+\.tmp$")
# write_checkpoint's temporary directories: ".step-N.tmp-PID"
_TMP_CKPT = re.compile(r"^\.step-\d+\.tmp-(\d+)$")


class RunLock:
    """The lock of one run directory (``acquire`` / ``release``; also a context manager)."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock (the directory must exist) or raise a GenzooError naming the holder."""
        if fcntl is None or self._fd is not None:
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:
            raise GenzooError(f"cannot open the run lock '{self.path}' ({e.strerror}); "
                              "check that the run directory is writable") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held by another process (or, rarely, the file system has no locks)
            holder = _read_pid(fd)
            os.close(fd)
            who = f"process {holder}" if holder else "another process"
            raise GenzooError(
                f"run directory '{self.run_dir}' is in use by {who} (a genzoo run is writing to it); "
                "wait for it to finish or stop it, or choose another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (closing the file releases it); safe to call twice."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:  # a Trainer dropped without fit() must not keep its directory locked
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temporaries(run_dir: Path) -> list[Path]:
    """Remove the temporaries of dead writers in ``run_dir``, its checkpoints/ and samples/.

    Call only while holding the run lock: then no other run is writing here. A temporary that
    names a living process (some other command writing beside the run) is left alone.
    Returns what was removed.
    """
    removed: list[Path] = []
    for folder in (run_dir, run_dir / "checkpoints", run_dir / "samples"):
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if p.name == LOCK_NAME:
                continue
            m = _TMP_CKPT.match(p.name) if folder.name == "checkpoints" else None
            if m and p.is_dir() and not p.is_symlink():
                if not _alive(int(m.group(1))):
                    shutil.rmtree(p, ignore_errors=True)
                    removed.append(p)
                continue
            m = _TMP_FILE.match(p.name)
            if m and p.is_file() and not (m.group(1) and _alive(int(m.group(1)))):
                try:
                    p.unlink()
                    removed.append(p)
                except OSError:
                    pass  # gone already, or not ours to remove: harmless either way
    return removed
