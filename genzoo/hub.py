"""Loading models: from a run directory, a Hugging Face Hub repo, or a family name.

Only ``model.safetensors`` is ever read; nothing downloaded is executed (the family code
comes from installed plugins, chosen by name through the registry).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from genzoo.errors import GenzooError
from genzoo.family import CONFIG_NAME, PICKLE_SUFFIXES, WEIGHTS_NAME, GenerativeModel

REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def split_revision(source: str, revision: str | None = None) -> tuple[str, str | None]:
    """'user/model@v1' -> ('user/model', 'v1')."""
    if "@" in source and not Path(source).exists():
        repo, _, rev = source.rpartition("@")
        if revision and rev != revision:
            raise GenzooError(f"two revisions given: '@{rev}' in the name and revision='{revision}'")
        return repo, rev
    return source, revision


def load(source: str | Path, *, revision: str | None = None, device: str | torch.device | None = None) -> GenerativeModel:
    """Load a model.

    Args:
        source: a run directory (``runs/dcgan-digits``), a Hub repo id (``user/model``,
            optionally ``user/model@revision``), or a family name (``dcgan``: a fresh,
            untrained model with default settings).
        revision: Hub branch, tag or commit.
        device: where to put the model (default: CPU).
    """
    from genzoo.registry import families

    src = str(source)
    path = Path(src).expanduser()
    if path.exists():
        model = load_from_dir(path if path.is_dir() else path.parent)
    elif src in families.names():
        model = create(src)
    else:
        repo, rev = split_revision(src, revision)
        if REPO_ID.match(repo):
            model = load_from_dir(download(repo, revision=rev))
        else:
            hint = ""
            import difflib

            close = difflib.get_close_matches(src, families.names(), n=1)
            if close:
                hint = f"; did you mean the family '{close[0]}'?"
            raise GenzooError(
                f"'{src}' is not a run directory, an installed family, or a Hub repo id (user/model){hint}"
            )
    if device is not None:
        from genzoo.engine import resolve_device

        model = model.to(resolve_device(str(device)))
    return model.eval()


def create(family: str, **overrides: Any) -> GenerativeModel:
    """A fresh, untrained model of ``family`` with default settings plus ``overrides``."""
    from genzoo.registry import families

    fam = families.get(family)
    return fam.build(fam.default_config(**overrides))


def load_from_dir(d: str | Path) -> GenerativeModel:
    """Read config.json + model.safetensors from a folder in the Hub layout."""
    from genzoo.io import load_tensors, read_json

    d = Path(d)
    cfg_path = d / CONFIG_NAME
    if not cfg_path.is_file():
        raise GenzooError(f"'{d}' has no {CONFIG_NAME}; it is not a genzoo model (expected {CONFIG_NAME} + {WEIGHTS_NAME})")
    meta = read_json(cfg_path, "model config")
    if not isinstance(meta, dict) or "family" not in meta or "config" not in meta:
        raise GenzooError(f"'{cfg_path}' is not a genzoo config (it has no 'family' and 'config' keys)")
    weights = d / WEIGHTS_NAME
    if not weights.is_file():
        pickles = sorted(p.name for p in d.iterdir() if p.suffix in PICKLE_SUFFIXES)
        if pickles:
            raise GenzooError(
                f"'{d}' offers only pickled weights ({', '.join(pickles)}); genzoo reads safetensors only, "
                "because unpickling can run arbitrary code. Ask the author for model.safetensors"
            )
        raise GenzooError(f"'{d}' has no {WEIGHTS_NAME}")
    model = model_from_config(meta, where=str(cfg_path))
    state = load_tensors(weights, "weights file")
    load_state_strict(model, state, where=str(weights))
    return model


def model_from_config(meta: dict[str, Any], where: str = "config.json") -> GenerativeModel:
    """Build an (untrained) model from a config.json dict, through the family registry."""
    from genzoo.family import genzoo_version
    from genzoo.registry import families

    name = meta["family"]
    if name not in families.names():
        dist = (meta.get("plugin") or {}).get("distribution")
        pkg = dist if dist and dist not in ("unknown", "genzoo") else f"genzoo-{name}"
        raise GenzooError(
            f"this model needs the '{name}' family, which is not installed; install its plugin: pip install {pkg}"
        )
    fam = families.get(name)
    saved = str(meta.get("genzoo_version", "0"))
    try:
        config = fam.config_class.from_dict(meta["config"], source=f"{where}")
    except GenzooError as e:
        if _newer(saved, genzoo_version()) and "unknown" in str(e):
            unknown = sorted(set(meta["config"]) - set(fam.config_class.field_names()))
            raise GenzooError(
                f"{where} was written by genzoo {saved}, newer than this genzoo {genzoo_version()}, and has "
                f"settings this version does not know ({', '.join(unknown)}); upgrade: pip install -U genzoo"
            ) from None
        raise
    model = fam.build(config)
    model.meta = {k: v for k, v in meta.items() if k not in ("config",)}
    return model


def _newer(a: str, b: str) -> bool:
    def key(v: str) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", v)[:3]) or (0,)

    return key(a) > key(b)


def load_state_strict(model: torch.nn.Module, state: dict[str, torch.Tensor], where: str = "weights") -> None:
    """Load weights, refusing any missing, unexpected or mis-shaped tensor (naming the first)."""
    expected = model.state_dict()
    for k, v in expected.items():
        if k not in state:
            raise GenzooError(f"{where} does not match the config: tensor '{k}' is missing")
        if tuple(state[k].shape) != tuple(v.shape):
            raise GenzooError(
                f"{where} does not match the config: '{k}' has shape {tuple(state[k].shape)}, "
                f"the model expects {tuple(v.shape)}"
            )
    extra = [k for k in state if k not in expected]
    if extra:
        raise GenzooError(f"{where} does not match the config: unexpected tensor '{extra[0]}'")
    model.load_state_dict(state, strict=True)


def download(repo_id: str, *, revision: str | None = None) -> Path:
    """Fetch config.json, model.safetensors and README.md through the hub cache.

    A second call needs no network; with HF_HUB_OFFLINE=1 only the cache is used.
    HF_ENDPOINT, HF_TOKEN and HF_HOME are honoured by huggingface_hub itself.
    """
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub import errors as hf_errors
    except ImportError:  # pragma: no cover - a core dependency
        raise GenzooError("loading from the Hub needs huggingface-hub: pip install huggingface-hub") from None
    want = [CONFIG_NAME, WEIGHTS_NAME, "README.md", "samples.png"]
    try:
        local = Path(snapshot_download(repo_id, revision=revision, allow_patterns=want, library_name="genzoo"))
    except hf_errors.RevisionNotFoundError:
        raise GenzooError(f"revision '{revision}' not found in Hub repo '{repo_id}'; check the branch, tag or commit") from None
    except hf_errors.RepositoryNotFoundError:
        raise GenzooError(
            f"Hub repo '{repo_id}' not found (or private: log in with `hf auth login` or set HF_TOKEN)"
        ) from None
    except hf_errors.LocalEntryNotFoundError:
        raise GenzooError(
            f"cannot reach the Hub for '{repo_id}' and it is not in the local cache; connect to the network "
            "or unset HF_HUB_OFFLINE, or load a run directory instead"
        ) from None
    except hf_errors.HfHubHTTPError as e:
        first = str(e).splitlines()[0]
        raise GenzooError(f"the Hub refused '{repo_id}': {first}") from None
    except (OSError, ValueError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise GenzooError(f"could not download '{repo_id}': {first}") from None
    if not (local / CONFIG_NAME).is_file() or not (local / WEIGHTS_NAME).is_file():
        _explain_missing(repo_id, revision, local)
    return local


def _explain_missing(repo_id: str, revision: str | None, local: Path) -> None:
    """The repo downloaded but lacks our files: say which and why."""
    files: list[str] = []
    try:
        from huggingface_hub import HfApi

        files = HfApi().list_repo_files(repo_id, revision=revision)
    except Exception:
        files = [p.name for p in local.iterdir()]
    if CONFIG_NAME not in files and not (local / CONFIG_NAME).is_file():
        raise GenzooError(f"Hub repo '{repo_id}' has no {CONFIG_NAME}; it is not a genzoo model")
    pickles = [f for f in files if f.endswith(PICKLE_SUFFIXES)]
    if pickles:
        raise GenzooError(
            f"Hub repo '{repo_id}' offers only pickled weights ({', '.join(pickles[:3])}); genzoo reads "
            "safetensors only, because unpickling can run arbitrary code"
        )
    raise GenzooError(f"Hub repo '{repo_id}' has no {WEIGHTS_NAME}")
