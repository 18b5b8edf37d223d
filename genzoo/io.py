"""Atomic file writing and pickle-free tensor state.

Every file genzoo writes goes to a temporary name in the same folder and is renamed
into place, so a crash or SIGKILL leaves either the old file or the new one, never
half of one.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from genzoo.errors import GenzooError

# The files of a model repo (the Hub's layout, also a run directory's top level).
WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
CARD_NAME = "README.md"
SAMPLES_NAME = "samples.png"
#: Suffixes of pickled weights, which genzoo never reads.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` on success."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # the writer's PID in the name: the next run can tell a dead writer's leftover from a live one's
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.pid{os.getpid()}.", suffix=".tmp", dir=path.parent)
    except (FileExistsError, NotADirectoryError):  # a part of the folder is a file
        raise NotADirectoryError(errno.ENOTDIR, "a part of its folder is a file, not a folder", str(path)) from None
    except OSError as e:  # name the file the caller asked for, not the temporary one
        raise OSError(e.errno, e.strerror, str(path)) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the usual mode
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=json_default) + "\n")


def json_default(o: Any) -> Any:
    """json.dumps' ``default``: tuples and sets as lists, paths as text, tensors as lists."""
    if isinstance(o, (tuple, set)):
        return list(o)
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, torch.Tensor):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def read_json(path: str | Path, what: str = "file") -> Any:
    p = Path(path)
    try:
        return json.loads(p.read_text())
    except FileNotFoundError:
        raise GenzooError(f"{what} '{p}' not found") from None
    except ValueError as e:
        raise GenzooError(f"{what} '{p}' is not valid JSON ({e}); the file may be truncated") from None


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    """Write a safetensors file atomically. Tensors are made contiguous and CPU-resident."""
    flat = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    flat = _dedupe_storage(flat)
    with atomic_path(path) as tmp:
        save_file(flat, str(tmp), metadata=metadata)


def _dedupe_storage(t: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # safetensors refuses tensors sharing memory (tied weights); clone the later ones.
    seen: set[int] = set()
    out = {}
    for k, v in t.items():
        ptr = v.untyped_storage().data_ptr() if v.numel() else -1
        if ptr in seen and ptr != -1:
            v = v.clone()
        seen.add(ptr)
        out[k] = v
    return out


def load_tensors(path: str | Path, what: str = "weights file") -> dict[str, torch.Tensor]:
    """Read a safetensors file; corrupted or truncated files raise a GenzooError."""
    p = Path(path)
    if not p.is_file():
        raise GenzooError(f"{what} '{p}' not found")
    try:
        return load_file(str(p))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise GenzooError(
            f"{what} '{p}' is corrupted or truncated ({first}); re-download or re-save it"
        ) from None


#: safetensors dtype names -> torch dtypes (the ones torch can hold).
_SAFETENSORS_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool,
}


def read_header(path: str | Path, what: str = "weights file") -> dict[str, tuple[torch.dtype | None, tuple[int, ...]]]:
    """The tensors a safetensors file holds, ``{name: (dtype, shape)}``, read from its header
    alone (an 8-byte little-endian length, then that much JSON): no tensor data is read, so
    this is instant even for a huge file. dtype is None for a type torch has no name for.
    A header that is not one raises a GenzooError.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        with open(p, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if size < 8 or n > size - 8 or n > 100_000_000:
                raise ValueError(f"header length {n} does not fit a {size}-byte file")
            raw = json.loads(f.read(n))
    except FileNotFoundError:
        raise GenzooError(f"{what} '{p}' not found") from None
    except (OSError, ValueError) as e:
        raise GenzooError(f"{what} '{p}' is corrupted or truncated ({e}); re-download or re-save it") from None
    out: dict[str, tuple[torch.dtype | None, tuple[int, ...]]] = {}
    if not isinstance(raw, dict):
        raise GenzooError(f"{what} '{p}' is corrupted (its header is not a table of tensors); re-download or re-save it")
    for name, info in raw.items():
        if name == "__metadata__":
            continue
        shape = info.get("shape") if isinstance(info, dict) else None
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                                  for d in shape):
            raise GenzooError(f"{what} '{p}' is corrupted (tensor {name!r} has no valid shape); re-download or re-save it")
        out[name] = (_SAFETENSORS_DTYPES.get(str(info.get("dtype"))), tuple(shape))
    return out


def count_nonfinite(t: torch.Tensor) -> int:
    """How many values of ``t`` are NaN or infinite (0 for integer and bool tensors)."""
    if not (t.is_floating_point() or t.is_complex()) or t.numel() == 0:
        return 0
    return int((~torch.isfinite(t)).sum())


# -- optimizer state without pickle ------------------------------------------------------
def flatten_optimizer(prefix: str, state_dict: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer state_dict into tensors (for safetensors) and JSON scalars."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {"param_groups": state_dict["param_groups"], "state": {}}
    for idx, st in state_dict["state"].items():
        entry: dict[str, Any] = {}
        for key, val in st.items():
            if isinstance(val, torch.Tensor):
                tensors[f"{prefix}.{idx}.{key}"] = val
                entry[key] = "__tensor__"
            else:
                entry[key] = val
        scalars["state"][str(idx)] = entry
    return tensors, scalars


def unflatten_optimizer(prefix: str, tensors: dict[str, torch.Tensor], scalars: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for idx, entry in scalars["state"].items():
        st = {}
        for key, val in entry.items():
            st[key] = tensors[f"{prefix}.{idx}.{key}"] if val == "__tensor__" else val
        state[int(idx)] = st
    groups = []
    for g in scalars["param_groups"]:
        g = dict(g)
        if "betas" in g and isinstance(g["betas"], list):
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    return {"state": state, "param_groups": groups}
