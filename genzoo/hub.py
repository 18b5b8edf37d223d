"""Loading and sharing models: a run directory, a Hugging Face Hub repo, or a family name.

Only ``config.json`` and ``model.safetensors`` are ever read; nothing downloaded is executed
(the family's code comes from installed plugins, chosen by name through the registry), and
there is no ``trust_remote_code`` path. Hub traffic goes through huggingface_hub's own client
and its cache, so a model used once loads again without the network, and with
``HF_HUB_OFFLINE=1``.

The environment variables huggingface_hub documents are honoured: ``HF_ENDPOINT``,
``HF_TOKEN``, ``HF_HOME``, ``HF_HUB_CACHE``, ``HF_HUB_OFFLINE``. genzoo reads them when a
model is loaded or pushed (huggingface_hub itself reads most of them once, when it is first
imported), so a program may set them after importing genzoo and still be obeyed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from genzoo import __version__
from genzoo.cards import render_card
from genzoo.console import progress_enabled
from genzoo.engine.devices import resolve_device
from genzoo.errors import GenzooError
from genzoo.images import save_grid
from genzoo.io import (
    CARD_NAME,
    CONFIG_NAME,
    PICKLE_SUFFIXES,
    SAMPLES_NAME,
    WEIGHTS_NAME,
    count_nonfinite,
    load_tensors,
    read_header,
    read_json,
)
from genzoo.hubenv import COMMIT, REPO_ID, REVISION, HubSettings, check_repo_id, check_revision
from genzoo.registry import families

__all__ = ["COMMIT", "REPO_ID", "REVISION", "HubSettings", "check_repo_id", "check_revision", "download", "load",
           "push"]  # the first six live in genzoo.hubenv (genzoo.data.hf needs them without this module's imports)

if TYPE_CHECKING:  # genzoo.family imports this module to load pretrained models
    from genzoo.config import ModelConfig
    from genzoo.family import Family, GenerativeModel

#: A PEP 508 distribution name: only such a name is ever suggested to `pip install`.
DISTRIBUTION = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
#: The files a genzoo model repo holds; downloads fetch only these.
HUB_FILES = (CONFIG_NAME, WEIGHTS_NAME, CARD_NAME, SAMPLES_NAME)


def split_revision(source: str, revision: str | None = None) -> tuple[str, str | None]:
    """'user/model@v1' -> ('user/model', 'v1')."""
    if "@" in source and not Path(source).exists():
        repo, _, rev = source.rpartition("@")
        if not rev:
            raise GenzooError(f"'{source}' ends with '@' but names no revision; use user/model@BRANCH_OR_COMMIT")
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
    src = str(source)
    path = Path(src).expanduser()
    if path.exists():
        model = load_from_dir(path if path.is_dir() else path.parent)
    elif src in families.names():
        model = create(src)
    else:
        repo, rev = split_revision(src, revision)
        if REPO_ID.match(repo):
            check_repo_id(repo)
            check_revision(rev)
            model = load_from_dir(_download_or_say_no_run(repo, rev, path), origin=_describe(repo, rev))
            model.meta["repo_id"] = repo
            if rev:
                model.meta["revision"] = rev
        else:
            hint = ""
            close = difflib.get_close_matches(src, families.names(), n=1)
            if close:
                hint = f"; did you mean the family '{close[0]}'?"
            raise GenzooError(
                f"'{src}' is not a run directory, an installed family, or a Hub repo id (user/model){hint}"
            )
    if device is not None:
        model = model.to(resolve_device(str(device)))
    return model.eval()


def _download_or_say_no_run(repo: str, rev: str | None, path: Path) -> Path:
    """Download ``repo``; when it also reads as a local path whose folder exists (``runs/dcgan-digit``, a
    typo of a run directory), a failure says first that no such run directory exists."""
    try:
        return download(repo, revision=rev)
    except GenzooError as e:
        if path.parent != Path(".") and path.parent.is_dir():
            raise GenzooError(f"no run directory '{path}'; as a Hub repo id it was not found either: {e}") from None
        raise


def create(family: str, **overrides: Any) -> GenerativeModel:
    """A fresh, untrained model of ``family`` with default settings plus ``overrides``."""
    fam = families.get(family)
    return fam.build(fam.default_config(**overrides))


def _describe(repo_id: str, revision: str | None) -> str:
    return f"Hub repo '{repo_id}'" + (f" at revision '{revision}'" if revision else "")


def load_from_dir(d: str | Path, *, origin: str | None = None) -> GenerativeModel:
    """Read config.json + model.safetensors from a folder in the Hub layout.

    ``origin`` names where the folder came from (e.g. "Hub repo 'user/model'") in errors,
    instead of the folder's path.
    """
    d = Path(d)
    where = origin or f"'{d}'"
    cfg_path = d / CONFIG_NAME
    if not cfg_path.is_file():
        raise GenzooError(f"{where} has no {CONFIG_NAME}; it is not a genzoo model (expected {CONFIG_NAME} + {WEIGHTS_NAME})")
    meta = read_json(cfg_path, "model config")
    if not isinstance(meta, dict) or "family" not in meta or not isinstance(meta.get("config"), dict):
        raise GenzooError(f"the {CONFIG_NAME} of {where} is not a genzoo config (it has no 'family' and 'config' keys)")
    weights = d / WEIGHTS_NAME
    if not weights.is_file():
        pickles = sorted(p.name for p in d.iterdir() if p.suffix in PICKLE_SUFFIXES)
        if pickles:
            raise _pickle_error(where, pickles)
        raise GenzooError(f"{where} has no {WEIGHTS_NAME}")
    w_where = f"the {WEIGHTS_NAME} of {where}" if origin else str(weights)
    # The config is checked against the weights' own header (read without loading a tensor)
    # before any real model is built: a config.json asking for a huge network is refused here.
    try:
        header = read_header(weights, "weights file")
    except GenzooError:
        if not origin:
            raise
        raise GenzooError(f"{w_where} is corrupted or truncated (its header does not read as safetensors); "
                          "nothing was loaded. Ask the author to re-upload it") from None
    model = model_from_config(meta, where=f"the {CONFIG_NAME} of {where}", weights_header=header,
                              weights_where=w_where)
    if origin:
        state = _read_downloaded_weights(weights, w_where)
        advice = "ask the author to re-upload it, or load another revision"
    else:
        state = load_tensors(weights, "weights file")
        done = meta["config"].get("steps")
        more = f" (more than {done})" if isinstance(done, int) and not isinstance(done, bool) else ""
        advice = (f"restore it from a backup, or train on from the run's last checkpoint, which writes it anew: "
                  f"genzoo train {meta['family']} --resume --out {d} --steps N{more}")
    load_state_strict(model, state, where=w_where, advice=advice)
    return model


def _read_downloaded_weights(path: Path, what: str) -> dict[str, torch.Tensor]:
    """Like genzoo.io.load_tensors, with a message about the repo rather than the cache path."""
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise GenzooError(
            f"{what} is corrupted or truncated ({_first_line(e)}); nothing was loaded. Ask the author to "
            "re-upload it"
        ) from None


def _pickle_error(where: str, pickles: list[str]) -> GenzooError:
    return GenzooError(
        f"{where} offers only pickled weights ({', '.join(pickles[:3])}); genzoo reads {WEIGHTS_NAME} only, "
        "because unpickling can run arbitrary code. Ask the author to upload safetensors weights"
    )


def model_from_config(meta: dict[str, Any], where: str = "config.json", *,
                      weights_header: dict[str, tuple[torch.dtype | None, tuple[int, ...]]] | None = None,
                      weights_where: str = WEIGHTS_NAME) -> GenerativeModel:
    """Build an (untrained) model from a config.json dict, through the family registry.

    ``weights_header`` (genzoo.io.read_header of the weights that go with it): the config is
    first built on the meta device and its tensor shapes compared with the header's, so a
    config that does not fit its weights (``"g_width": 100000``) is refused before any memory
    is allocated, naming the first tensor that differs and the config field that explains it.
    """
    name = str(meta["family"])
    if name not in families.names():
        dist = (meta.get("plugin") or {}).get("distribution") if isinstance(meta.get("plugin"), dict) else None
        if dist is None or dist in ("unknown", "genzoo"):
            dist = f"genzoo-{name}"
        # config.json comes from whoever wrote the model: never echo a name pip would not accept as a command.
        if not isinstance(dist, str) or not DISTRIBUTION.match(dist):
            raise GenzooError(
                f"this model needs the family {name!r}, which is not installed, and its config.json names no valid "
                f"plugin distribution ({str(dist)!r}); find the family's plugin and install it"
            )
        raise GenzooError(
            f"this model needs the '{name}' family, which is not installed; install its plugin: pip install {dist}"
        )
    fam = families.get(name)
    saved = str(meta.get("genzoo_version", "0"))
    try:
        config = fam.config_class.from_dict(meta["config"], source=where)
    except GenzooError as e:
        if _newer(saved, __version__) and "unknown" in str(e):
            unknown = sorted(set(meta["config"]) - set(fam.config_class.field_names()))
            raise GenzooError(
                f"{where} was written by genzoo {saved}, newer than this genzoo {__version__}, and has "
                f"settings this version does not know ({', '.join(unknown)}); upgrade: pip install -U genzoo"
            ) from None
        raise
    if weights_header is not None:
        check_config_fits_weights(fam, config, weights_header, weights_where)
    model = fam.build(config)
    model.meta = {k: v for k, v in meta.items() if k not in ("config",)}
    return model


def _shape_mismatch(want: dict[str, tuple[int, ...]], have: dict[str, tuple[int, ...]]) -> str | None:
    """The first tensor whose presence or shape differs between two {name: shape}, described; None if none."""
    for k, shape in want.items():
        if k not in have:
            return f"tensor '{k}' is missing"
        if have[k] != shape:
            return f"'{k}' has shape {have[k]}, the model expects {shape}"
    extra = [k for k in have if k not in want]
    return f"unexpected tensor '{extra[0]}'" if extra else None


def _meta_shapes(fam: Family, config: ModelConfig) -> dict[str, tuple[int, ...]] | None:
    model = fam.build_meta(config)
    return None if model is None else {k: tuple(v.shape) for k, v in model.state_dict().items()}


def check_config_fits_weights(fam: Family, config: ModelConfig, header: dict[str, tuple[torch.dtype | None, tuple[int, ...]]],
                              weights_where: str = WEIGHTS_NAME) -> None:
    """Refuse a config whose model (built on the meta device: no memory) does not have exactly
    the tensors and shapes of ``header``. A family whose build cannot run on the meta device is
    not checked here (load_state_strict still compares every tensor after building)."""
    want = _meta_shapes(fam, config)
    if want is None:
        return
    have = {k: shape for k, (_, shape) in header.items()}
    problem = _shape_mismatch(want, have)
    if problem is None:
        return
    cause = _responsible_field(fam, config, want, have)
    raise GenzooError(
        f"{weights_where} does not match the config: {problem}{cause}; nothing was built. "
        f"Use the {CONFIG_NAME} that was saved with these weights"
    )


def _responsible_field(fam: Family, config: ModelConfig, want: dict[str, tuple[int, ...]],
                       have: dict[str, tuple[int, ...]]) -> str:
    """'' or ' (g_width is 100000 in the config; the weights were made with g_width=64)': the one
    whole-number config field whose change makes the model fit the weights exactly. Candidate
    values come from the first mismatching tensor (the field scaled by the ratio of the two
    sizes, or the size itself); each is tried on the meta device, which costs no memory."""
    first = next((k for k in want if k in have and have[k] != want[k]), None)
    if first is None or len(have[first]) != len(want[first]):
        return ""
    pairs = [(h, w) for h, w in zip(have[first], want[first]) if h != w]
    for f in dataclasses.fields(config):
        v = getattr(config, f.name)
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            continue
        tries = {h for h, _ in pairs} | {v * h // w for h, w in pairs if (v * h) % w == 0}
        for cand in sorted(tries - {v, 0}):
            try:
                shapes = _meta_shapes(fam, dataclasses.replace(config, **{f.name: cand}))
            except Exception:  # a value the family refuses: not the one
                continue
            if shapes is not None and _shape_mismatch(shapes, have) is None:
                return f" ({f.name} is {v} in the config; the weights were made with {f.name}={cand})"
    return ""


def _newer(a: str, b: str) -> bool:
    def key(v: str) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", v)[:3]) or (0,)

    return key(a) > key(b)


def load_state_strict(model: torch.nn.Module, state: dict[str, torch.Tensor], where: str = "weights",
                      advice: str = "re-download or re-save it") -> None:
    """Load weights, refusing any missing, unexpected or mis-shaped tensor, or one holding NaN
    or infinite values (naming the first; ``advice`` says what to do about damaged values)."""
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
    # Damaged bytes inside the tensor data still load: they would give NaN samples without a word.
    for k, v in state.items():
        bad = count_nonfinite(v)
        if bad:
            others = sum(1 for t in state.values() if count_nonfinite(t)) - 1
            more = f" (and {others} more tensor(s) have some)" if others else ""
            raise GenzooError(
                f"{where}: tensor '{k}' has {bad} non-finite value(s) (NaN or infinite){more}; the file is damaged: {advice}"
            )
    model.load_state_dict(state, strict=True)


# ------------------------------------------------------------------------------------------
# The Hub
# ------------------------------------------------------------------------------------------
def _hf() -> Any:
    try:
        import huggingface_hub  # here: slow to import; only Hub use needs it
    except ImportError:  # pragma: no cover - a core dependency
        raise GenzooError("the Hub needs huggingface-hub: pip install huggingface-hub") from None
    return huggingface_hub


def _network_errors() -> tuple[type[BaseException], ...]:
    errs: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for mod in ("httpx2", "httpx", "requests"):  # whichever HTTP stack this huggingface_hub uses
        with contextlib.suppress(ImportError, AttributeError):
            m = __import__(mod)
            errs.append(m.TransportError if hasattr(m, "TransportError") else m.exceptions.ConnectionError)
    return tuple(errs)


def _version() -> str:
    return __version__


def _first_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return lines[0] if lines else type(e).__name__


def _status(e: BaseException) -> int | None:
    resp = getattr(e, "response", None)
    return getattr(resp, "status_code", None)


@contextlib.contextmanager
def _quiet_progress() -> Iterator[None]:
    """Hide huggingface_hub's progress bars when genzoo's are off (tests, pipes, GENZOO_PROGRESS=0)."""
    if progress_enabled():
        yield
        return
    # here: huggingface_hub is slow to import; only Hub use needs it
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    was = are_progress_bars_disabled()
    disable_progress_bars()
    try:
        yield
    finally:
        if not was:
            enable_progress_bars()


def check_repo_files(repo_id: str, files: list[str], revision: str | None = None) -> None:
    """Refuse a Hub repo that is not a genzoo model, naming what it lacks (or its pickles)."""
    where = _describe(repo_id, revision)
    if WEIGHTS_NAME not in files:
        pickles = [f for f in files if f.lower().endswith(PICKLE_SUFFIXES)]
        if pickles:
            raise _pickle_error(where, pickles)
    if CONFIG_NAME not in files:
        raise GenzooError(f"{where} has no {CONFIG_NAME}; it is not a genzoo model (expected {CONFIG_NAME} + {WEIGHTS_NAME})")
    if WEIGHTS_NAME not in files:
        raise GenzooError(f"{where} has no {WEIGHTS_NAME}")


def download(repo_id: str, *, revision: str | None = None) -> Path:
    """Fetch config.json, model.safetensors, README.md and samples.png through the Hub cache.

    Returns the local snapshot folder. Online, the repo's file list is checked first (so a
    repo with only pickled weights is refused before anything is downloaded); files already
    in the cache are not fetched again. When the Hub cannot be reached, or with
    ``HF_HUB_OFFLINE=1``, the cached snapshot of ``revision`` is used.
    """
    hf = _hf()
    from huggingface_hub import errors as hf_errors  # here: see _hf

    check_repo_id(repo_id)
    check_revision(revision)
    s = HubSettings.from_env()
    where = _describe(repo_id, revision)
    net = _network_errors()
    if not s.offline:
        try:
            api = hf.HfApi(endpoint=s.endpoint, library_name="genzoo", library_version=_version())
            info = api.model_info(repo_id, revision=revision)
            # The commit id becomes a folder name in the cache: refuse anything but 40 hex digits.
            if not isinstance(info.sha, str) or not COMMIT.match(info.sha):
                raise GenzooError(
                    f"the Hub at {s.where()} answered {where} with an invalid commit id {str(info.sha)[:80]!r} "
                    "(expected 40 hex digits); check HF_ENDPOINT"
                )
            check_repo_files(repo_id, [f.rfilename for f in info.siblings or []], revision)
        except hf_errors.RevisionNotFoundError:
            raise GenzooError(
                f"revision '{revision}' not found in Hub repo '{repo_id}'; check the branch, tag or commit"
            ) from None
        except hf_errors.RepositoryNotFoundError:
            raise _not_found(repo_id) from None
        except hf_errors.HfHubHTTPError as e:
            if _status(e) in (401, 403):
                raise GenzooError(f"the Hub refused access to '{repo_id}' ({_first_line(e)}); log in with "
                                  "`hf auth login` or set HF_TOKEN") from None
            pass  # Hub trouble (5xx): the cache may still hold the model
        except net:
            pass  # no network: the cache may still hold the model
    try:
        with _quiet_progress():
            local = Path(hf.snapshot_download(
                repo_id, revision=revision, allow_patterns=list(HUB_FILES), endpoint=s.endpoint,
                cache_dir=s.cache_dir, local_files_only=s.offline, library_name="genzoo", library_version=_version(),
            ))
    except hf_errors.RevisionNotFoundError:
        if revision is None:  # the default branch cannot be missing: the server sent a commit it does not have
            raise GenzooError(f"the Hub at {s.where()} named a commit for {where} that it then could not serve; "
                              "try again, or check HF_ENDPOINT") from None
        raise GenzooError(f"revision '{revision}' not found in Hub repo '{repo_id}'; check the branch, tag or commit") from None
    except hf_errors.RepositoryNotFoundError:
        raise _not_found(repo_id) from None
    except AssertionError:  # huggingface_hub asserts the server sent a commit id
        raise GenzooError(f"the Hub at {s.where()} sent no commit id for {where}; check HF_ENDPOINT") from None
    except hf_errors.LocalEntryNotFoundError:
        if s.offline:
            raise GenzooError(
                f"{where} is not in the local Hub cache and HF_HUB_OFFLINE is set; download it once "
                "with network access (unset HF_HUB_OFFLINE)"
            ) from None
        raise GenzooError(
            f"cannot reach the Hub at {s.where()} and {where} is not in the local cache; "
            "check the network connection or HF_ENDPOINT"
        ) from None
    except hf_errors.HfHubHTTPError as e:
        raise GenzooError(f"the Hub refused '{repo_id}': {_first_line(e)}") from None
    except net as e:
        raise GenzooError(f"cannot reach the Hub at {s.where()} for '{repo_id}' ({_first_line(e)})") from None
    except (OSError, ValueError) as e:
        raise GenzooError(f"could not download '{repo_id}': {_first_line(e)}") from None
    if not (local / CONFIG_NAME).is_file() or not (local / WEIGHTS_NAME).is_file():
        present = [p.name for p in local.iterdir()] if local.is_dir() else []
        check_repo_files(repo_id, present, revision)
    return local


def _not_found(repo_id: str) -> GenzooError:
    return GenzooError(
        f"Hub repo '{repo_id}' not found (check the name; if it is private, log in with `hf auth login` "
        "or set HF_TOKEN)"
    )


@dataclass(frozen=True)
class PushResult:
    """Where a push went: the repo's URL (the branch's, for --revision), the commit id."""

    url: str
    commit: str
    repo_id: str
    revision: str | None


def push(
    run_dir: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    message: str | None = None,
    license: str | None = None,
) -> PushResult:
    """Upload a run's model to the Hub in ONE commit: config.json, model.safetensors, README.md, samples.png.

    The repo is created if needed (``private`` applies only then), and the branch
    ``revision`` too. README.md is re-rendered from the card template with ``repo_id``, so
    its how-to snippet names the real repo. The model is loaded first, so a run whose
    weights do not match its config is never pushed.
    """
    hf = _hf()
    from huggingface_hub import CommitOperationAdd  # here: see _hf
    from huggingface_hub import errors as hf_errors  # here: see _hf

    check_repo_id(repo_id)
    check_revision(revision)
    run = Path(run_dir)
    if not run.is_dir():
        raise GenzooError(f"run directory '{run}' not found")
    s = HubSettings.from_env()
    if s.offline:
        raise GenzooError("HF_HUB_OFFLINE is set, so nothing can be pushed; unset it to push")
    model = load_from_dir(run)
    model.meta["repo_id"] = repo_id
    if license:
        model.meta["license"] = license
    readme = render_card(model).encode("utf-8")
    ops = [
        CommitOperationAdd(path_in_repo=CONFIG_NAME, path_or_fileobj=str(run / CONFIG_NAME)),
        CommitOperationAdd(path_in_repo=WEIGHTS_NAME, path_or_fileobj=str(run / WEIGHTS_NAME)),
        CommitOperationAdd(path_in_repo=CARD_NAME, path_or_fileobj=readme),
        CommitOperationAdd(path_in_repo=SAMPLES_NAME, path_or_fileobj=_samples_png(model, run)),
    ]
    api = hf.HfApi(endpoint=s.endpoint, library_name="genzoo", library_version=_version())
    branch = revision if revision and revision != "main" else None
    step = "create the repo"
    try:
        api.create_repo(repo_id, private=True if private else None, exist_ok=True)
        if branch:
            step = f"create the branch '{branch}'"
            api.create_branch(repo_id, branch=branch, exist_ok=True)
        step = "commit"
        info = api.create_commit(
            repo_id, ops, revision=branch,
            commit_message=message or f"Upload {model.family_name} model trained with genzoo",
        )
    except hf_errors.RepositoryNotFoundError:
        raise GenzooError(f"the Hub has no repo '{repo_id}' you can write to; check the namespace and that "
                          "HF_TOKEN (or `hf auth login`) has write access") from None
    except hf_errors.HfHubHTTPError as e:
        code = _status(e)
        if code in (401, 403):
            raise GenzooError(f"the Hub refused to {step} for '{repo_id}' ({code}): log in with `hf auth login` "
                              "or set HF_TOKEN to a token with write access") from None
        raise GenzooError(f"the Hub refused to {step} for '{repo_id}': {_first_line(e)}") from None
    except _network_errors() as e:
        raise GenzooError(f"cannot reach the Hub at {s.where()} ({_first_line(e)}); check the network or HF_ENDPOINT") from None
    except ValueError as e:  # huggingface_hub raises ValueError for card metadata the Hub refuses
        detail = " ".join(ln.strip("- ").strip() for ln in str(e).splitlines() if ln.strip())
        raise GenzooError(f"the Hub refused the model card of '{repo_id}': {detail}") from None
    url = f"{api.endpoint}/{repo_id}" + (f"/tree/{quote(branch, safe='')}" if branch else "")
    return PushResult(url=url, commit=info.oid, repo_id=repo_id, revision=branch)


def _samples_png(model: GenerativeModel, run: Path) -> bytes:
    """The run's sample grid, or a fresh 16-image grid (seed 0) if the run has none."""
    existing = run / SAMPLES_NAME
    if existing.is_file():
        return existing.read_bytes()
    labels = None
    if model.is_conditional:
        labels = torch.arange(16) % model.config.num_classes
    with tempfile.TemporaryDirectory() as tmp:
        p = save_grid(model.sample(16, seed=0, labels=labels), Path(tmp) / SAMPLES_NAME, nrow=4)
        return Path(p).read_bytes()
