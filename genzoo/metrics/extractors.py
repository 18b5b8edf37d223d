"""Feature extractors: images -> feature vectors (and class logits) that metrics compare.

A registry of factories, named by spec (``name`` or ``name:arg``), entry-point group
``genzoo.feature_extractors``:

* ``fashion-mnist``, ``digits``: genzoo's own small classifiers, shipped with genzoo
  (``genzoo/metrics/weights``), offline and fast on a CPU;
* ``classifier:PATH``: a classifier you trained with ``genzoo train classifier``;
* ``inception-v3[:FILE]``: the FID network through timm (``inception_v3.tf_in1k``), weights
  from FILE, ``$GENZOO_INCEPTION_WEIGHTS``, the Hugging Face cache, or the Hub when online;
* ``timm:NAME`` (pretrained weights, same lookup) or ``timm:NAME:random`` (seed-0 random
  weights, explicitly asked for).

Pretrained weights are never silently replaced by random ones: when they cannot be
found, loading fails with a message that names the alternatives.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.errors import GenzooError
from genzoo.io import load_tensors
from genzoo.metrics.classifier import load_classifier, shipped
from genzoo.registry import Registry

extractors: Registry[Any] = Registry(
    "feature extractor", group="genzoo.feature_extractors",
    hint="Use fashion-mnist, digits, inception-v3, timm:NAME or classifier:PATH",
)

INCEPTION_TIMM = "inception_v3.tf_in1k"


class FeatureExtractor(nn.Module):
    """Images (N, C, H, W) in [0, 1] -> features (N, D) float32 and logits (N, K) or None.

    Attributes:
        spec: how to ask for it again (``fashion-mnist``, ``timm:resnet18:random`` ...).
        label: what its features are called in metric names ("fashion-mnist classifier features").
        key: identifies the exact weights, for the reference-statistics cache.
        num_features: D.
        has_logits: whether it gives class probabilities (needed by the Inception Score).
        info: facts for reports (accuracy, weights digest, input size ...).
    """

    spec: str = ""
    label: str = ""
    key: str = ""
    num_features: int = 0
    has_logits: bool = False
    short: str = ""  # label without the word "features", e.g. "fashion-mnist classifier"

    def __init__(self) -> None:
        super().__init__()
        self.info: dict[str, Any] = {}

    def forward_both(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        """Features only, (N, D): so torchmetrics and others can use it as a feature network."""
        return self.forward_both(x)[0]

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    @torch.inference_mode()
    def extract(self, images: Tensor, batch_size: int = 250) -> tuple[Tensor, Tensor | None]:
        """All images in batches -> (features (N, D) float32 CPU, logits (N, K) float32 CPU or None)."""
        if images.ndim != 4:
            raise GenzooError(f"expected images (N, C, H, W), got shape {tuple(images.shape)}")
        self.eval()
        feats, logits = [], []
        for i in range(0, images.shape[0], batch_size):
            f, lg = self.forward_both(images[i : i + batch_size].to(self.device).float())
            feats.append(f.float().cpu())
            if lg is not None:
                logits.append(lg.float().cpu())
        return torch.cat(feats), (torch.cat(logits) if logits else None)


def _to_channels(x: Tensor, channels: int) -> Tensor:
    if x.shape[1] == channels:
        return x
    if x.shape[1] == 1:
        return x.expand(-1, channels, -1, -1)
    raise GenzooError(f"cannot feed {x.shape[1]}-channel images to an extractor that takes {channels} channels")


# ------------------------------------------------------------------------------------------
# genzoo's classifiers
# ------------------------------------------------------------------------------------------
class ClassifierExtractor(FeatureExtractor):
    """A :class:`~genzoo.metrics.classifier.SmallClassifier`: pooled last-conv features + logits."""

    has_logits = True

    def __init__(self, path: Path, spec: str, name: str):
        super().__init__()
        self.net, info = load_classifier(path)
        self.spec = spec
        self.short = f"{name} classifier"
        self.label = f"{name} classifier features"
        self.num_features = self.net.num_features
        self.key = f"clf-{info['sha256'][:12]}"
        self.info = {
            "weights": str(path), "sha256": info["sha256"], "test_accuracy": info.get("test_accuracy"),
            "input": f"resized to {self.net.spec.image_size}x{self.net.spec.image_size}, {self.net.spec.channels} channel(s)",
            "command": info.get("command"),
        }

    def forward_both(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        return self.net.features_and_logits(x)


def _shipped_classifier(data: str) -> ClassifierExtractor:
    path = shipped(data)
    if path is None:
        raise GenzooError(
            f"genzoo's {data} classifier weights are missing from this installation; reinstall genzoo or "
            f"train them with `genzoo train classifier --data {data} --out {Path(__file__).parent / 'weights'}`"
        )
    return ClassifierExtractor(path, data, data)


def _user_classifier(arg: str | None) -> ClassifierExtractor:
    if not arg:
        raise GenzooError("classifier: needs a weights file, e.g. --extractor classifier:runs/classifier-x/x.safetensors")
    p = Path(arg).expanduser()
    return ClassifierExtractor(p, f"classifier:{p}", p.stem)


extractors.register("fashion-mnist", lambda arg: _shipped_classifier("fashion-mnist"))
extractors.register("digits", lambda arg: _shipped_classifier("digits"))
extractors.register("classifier", _user_classifier)


# ------------------------------------------------------------------------------------------
# timm models (Inception-v3 and any other)
# ------------------------------------------------------------------------------------------
def offline() -> bool:
    return any(os.environ.get(k, "").lower() in ("1", "true", "yes") for k in ("GENZOO_OFFLINE", "HF_HUB_OFFLINE"))


def find_timm_weights(model_name: str, local: str | None, alternatives: str) -> Path:
    """A safetensors file for timm model ``model_name``: ``local`` if given, else the HF cache,
    else (when online) a download from the Hub. Raises a GenzooError naming ``alternatives``."""
    if local:
        p = Path(local).expanduser()
        if not p.is_file():
            raise GenzooError(f"weights file '{p}' not found")
        if p.suffix != ".safetensors":
            raise GenzooError(f"'{p}' is not a .safetensors file; genzoo does not unpickle weight files")
        return p
    import timm  # here: timm is slow to import, and only its extractors need it

    cfg = timm.models.get_pretrained_cfg(model_name)
    repo = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
    if not repo:
        raise GenzooError(
            f"timm model '{model_name}' has no pretrained weights on the Hugging Face Hub; {alternatives}"
        )
    filename = getattr(cfg, "hf_hub_filename", None) or "model.safetensors"
    from huggingface_hub import hf_hub_download  # here: slow to import; only Hub weights need it

    try:
        return Path(hf_hub_download(repo, filename, local_files_only=True))
    except Exception:
        pass
    if offline():
        raise GenzooError(
            f"the weights of {model_name} (Hub repo {repo}) are not in the local Hugging Face cache and "
            f"GENZOO_OFFLINE/HF_HUB_OFFLINE forbid downloading them; {alternatives}"
        )
    try:
        return Path(hf_hub_download(repo, filename))
    except Exception as e:
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise GenzooError(f"could not get the weights of {model_name} from the Hub repo {repo} ({first}); {alternatives}") from None


class TimmExtractor(FeatureExtractor):
    """A timm model: images resized to its input size, gray replicated to RGB, normalised with
    its mean/std; features are the pooled pre-logits, logits its classifier (pretrained only)."""

    def __init__(self, model_name: str, *, weights: Path | None, spec: str, label: str, short: str, size: int | None = None):
        super().__init__()
        import timm  # here: timm is slow to import, and only its extractors need it

        if weights is None:  # explicitly random; same features every time
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                self.net = timm.create_model(model_name, pretrained=False)
        else:
            self.net = timm.create_model(model_name, pretrained=False)
            state = load_tensors(weights, "feature extractor weights")
            missing, unexpected = self.net.load_state_dict(state, strict=False)
            if missing or unexpected:
                what = f"missing {missing[:2]}" if missing else f"unexpected {unexpected[:2]}"
                raise GenzooError(f"'{weights}' does not fit timm model {model_name} ({what})")
        self.net.eval()
        cfg = self.net.pretrained_cfg or {}
        self.size = size or int(cfg.get("input_size", (3, 224, 224))[-1])
        self.register_buffer("mean", torch.tensor(cfg.get("mean", (0.485, 0.456, 0.406))).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(cfg.get("std", (0.229, 0.224, 0.225))).view(1, 3, 1, 1), persistent=False)
        self.num_features = int(self.net.num_features)
        self.has_logits = weights is not None and getattr(self.net, "num_classes", 0) > 0
        self.spec, self.label, self.short = spec, label, short
        digest = _file_digest(weights) if weights is not None else "random-seed0"
        self.key = f"timm-{model_name}-{digest}-{self.size}"
        self.info = {"timm_model": model_name, "weights": str(weights) if weights else "random (seed 0)",
                     "input": f"resized to {self.size}x{self.size}, RGB, mean/std normalised"}

    def forward_both(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        x = _to_channels(x, 3)
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        x = (x - self.mean) / self.std
        fmap = self.net.forward_features(x)
        feats = self.net.forward_head(fmap, pre_logits=True)
        logits = self.net.get_classifier()(feats) if self.has_logits else None
        return feats, logits


@functools.lru_cache(maxsize=64)
def _file_digest(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:12]


_ALTS = ("pass a local file (--extractor inception-v3:FILE.safetensors or GENZOO_INCEPTION_WEIGHTS=FILE), connect "
         "to the network once to fill the Hugging Face cache, or use an offline extractor: fashion-mnist, digits, "
         "classifier:PATH, or timm:NAME:random")


def _inception(arg: str | None) -> TimmExtractor:
    local = arg or os.environ.get("GENZOO_INCEPTION_WEIGHTS") or None
    weights = find_timm_weights(INCEPTION_TIMM, local, _ALTS)
    return TimmExtractor(
        INCEPTION_TIMM, weights=weights, spec="inception-v3", label="Inception-v3 features", short="Inception-v3",
        size=299,
    )


def _timm(arg: str | None) -> TimmExtractor:
    if not arg:
        raise GenzooError("timm: needs a model name, e.g. --extractor timm:resnet18 or timm:resnet18:random")
    name, _, mode = arg.partition(":")
    import timm  # here: timm is slow to import, and only its extractors need it

    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise GenzooError(f"timm has no model '{name}'{hint}")
    if mode == "random":
        return TimmExtractor(name, weights=None, spec=f"timm:{name}:random",
                             label=f"random-init {name} features (seed 0)", short=f"random-init {name}")
    if mode:
        raise GenzooError(f"unknown timm: option '{mode}'; use timm:{name} (pretrained) or timm:{name}:random")
    alts = (f"use timm:{name}:random for random (seed 0) features, fill the Hugging Face cache while online, "
            "or use fashion-mnist, digits or classifier:PATH")
    weights = find_timm_weights(name, None, alts)
    return TimmExtractor(name, weights=weights, spec=f"timm:{name}", label=f"pretrained {name} features", short=name)


extractors.register("inception-v3", _inception)
extractors.register("timm", _timm)


# ------------------------------------------------------------------------------------------
# lookup
# ------------------------------------------------------------------------------------------
_LOADED: dict[tuple[str, str], FeatureExtractor] = {}


def get_extractor(spec: str, device: str | torch.device | None = None) -> FeatureExtractor:
    """'fashion-mnist', 'inception-v3', 'timm:resnet18:random', 'classifier:PATH' -> extractor (cached)."""
    name, sep, arg = spec.partition(":")
    dev = torch.device(device) if device is not None else torch.device("cpu")
    key = (spec, str(dev))
    if key not in _LOADED:
        factory = extractors.get(name.strip())
        # building a network draws initial weights from the global RNG: keep a training run's stream intact
        with torch.random.fork_rng(devices=[]):
            ex = factory(arg if sep else None)
        _LOADED[key] = ex.to(dev).eval()
    return _LOADED[key]


def default_extractor(data: str | None) -> str:
    """genzoo's own classifier when it ships one for ``data``, else Inception-v3."""
    if data and ":" not in data and shipped(data) is not None:
        return data
    return "inception-v3"
