"""Model cards: README.md rendered from the family's template with the run's facts.

A family names its template with ``Family.card_template``: a ``"package:resource.md"``
reference (read with importlib.resources, so a plugin ships it inside its package), a path
to a Markdown file, or the template text itself. Built-in families use the same mechanism:
their templates live in the top-level ``cards/`` folder, packaged as ``genzoo.card_templates``
(``"genzoo.card_templates:dcgan.md"``). A family without one, or an uninstalled family, gets
``cards/default.md``. Templates are Jinja2 Markdown whose first block is
``---\\n{{ card_data }}\\n---``; huggingface_hub's ModelCard renders them and writes that YAML
front matter from a ModelCardData, so the card parses on the Hub.

Evaluation results come from ``model.meta["evaluation"]``, a list of entries::

    {"metric": "fid", "value": 23.1, "name": "FID (Inception-v3 pool3)",
     "protocol": {"feature_extractor": "inception-v3-pool3", "num_samples": 10000,
                  "reference": "fashion-mnist test (10000 images)"},
     "dataset": "fashion-mnist", "split": "test"}          # dataset and split optional

``protocol`` is a dict (written to model-index as the metric's ``args``) or a short string
(written as its ``config``). Each entry becomes one huggingface_hub ``EvalResult``, so the
card's ``model-index`` carries the metric, its value and how it was measured.

Template variables: everything in :func:`card_facts` (family, config, data, dataset, steps,
wall_time_text, hardware, evaluation, repo_id, conditional, num_classes, class_names,
config_json, image_to_image, ...) plus the card metadata (license, tags, datasets, pipeline_tag).
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from genzoo.errors import GenzooError
from genzoo.io import CARD_NAME, write_text
from genzoo.registry import families

DEFAULT_LICENSE = "mit"
REPO_PLACEHOLDER = "<user>/<model>"
# genzoo dataset names -> dataset ids on the Hub, so the card links the data it was trained on.
HUB_DATASETS = {"fashion-mnist": "zalando-datasets/fashion_mnist", "mnist": "ylecun/mnist",
                "cifar10": "uoft-cs/cifar10", "digits": "sklearn-digits"}
#: The package of the built-in templates (the top-level cards/ folder) and the default card.
TEMPLATE_PACKAGE = "genzoo.card_templates"
DEFAULT_TEMPLATE = f"{TEMPLATE_PACKAGE}:default.md"
# "package.module:resource.md"; a path such as C:/cards/x.md does not match (the resource
# part may not start with a slash or hold a colon or backslash).
_RESOURCE = re.compile(r"^[A-Za-z_][\w.]*:[^/\\:\n][^:\\\n]*\.md$")


def template_text(family_name: str) -> str:
    """The card template of ``family_name``: its ``card_template``, else the default card."""
    try:
        own = getattr(families.get(family_name), "card_template", None)
    except GenzooError:  # an uninstalled family still gets a card
        own = None
    return read_template(own or DEFAULT_TEMPLATE, family_name)


def read_template(ref: str | Path, family_name: str = "") -> str:
    """Template text from a ``card_template`` value: "package:resource.md", a path, or the text."""
    whose = f"family '{family_name}'" if family_name else "the family"
    if isinstance(ref, str) and _RESOURCE.match(ref):
        package, _, resource = ref.partition(":")
        f = _resource(package, resource)
        if f is None:
            raise GenzooError(f"{whose} names card template '{ref}', which its package does not hold")
        return f.read_text(encoding="utf-8")
    if isinstance(ref, Path) or (isinstance(ref, str) and "\n" not in ref and ref.endswith(".md")):
        p = Path(ref)
        if not p.is_file():
            raise GenzooError(f"{whose} names card template '{p}', which does not exist")
        return p.read_text(encoding="utf-8")
    return str(ref)


def _resource(package: str, resource: str) -> Any:
    """The file ``resource`` of ``package`` (a Traversable), or None when there is none."""
    if package == TEMPLATE_PACKAGE:
        bases = template_dirs()
    else:
        try:
            bases = [resources.files(package)]
        except (ModuleNotFoundError, TypeError):
            return None
    for base in bases:
        f = base.joinpath(resource)
        if f.is_file():
            return f
    return None


def template_dirs() -> list[Any]:
    """Where genzoo.card_templates lives: cards/ of a source checkout (an editable install does
    not make that folder importable under its package name), then the copy inside a wheel."""
    dirs: list[Any] = []
    checkout = Path(__file__).resolve().parent.parent / "cards"
    if checkout.is_dir():
        dirs.append(checkout)
    try:
        dirs.append(resources.files(TEMPLATE_PACKAGE))
    except (ModuleNotFoundError, TypeError):
        pass
    return dirs


def card_facts(model: Any) -> dict[str, Any]:
    """What a card template can use, from the model's config and ``meta``."""
    cfg = model.config.to_dict()
    data = model.meta.get("data", {}) or {}
    training = model.meta.get("training", {}) or {}
    env = training.get("environment", {}) or {}
    dataset = data.get("name") or cfg.get("data", "") or ""
    repo_id = model.meta.get("repo_id") or REPO_PLACEHOLDER
    return {
        "family": model.family_name,
        "config": cfg,
        "config_json": json.dumps(cfg, indent=2),
        "data": data,
        "dataset": dataset,
        "class_names": data.get("class_names", []),
        "training": training,
        "steps": training.get("steps", 0),
        "images_seen": training.get("images_seen"),
        "wall_time": training.get("wall_time_s"),
        "wall_time_text": _duration(training.get("wall_time_s")),
        "hardware": _hardware(env, training),
        "device": training.get("device", ""),
        "precision": training.get("precision", ""),
        "environment": env,
        "evaluation": [_eval_row(e) for e in model.meta.get("evaluation", []) or []],
        "repo_id": repo_id,
        "has_repo": repo_id != REPO_PLACEHOLDER,
        "plugin": (model.meta.get("plugin") or {}).get("distribution") or _plugin_of(model.family_name),
        "conditional": model.is_conditional,
        "num_classes": model.config.num_classes,
        "image_to_image": pipeline_tag_of(model.family_name) == "image-to-image",
    }


def _plugin_of(family: str) -> str:
    try:
        return families.origin(family)
    except GenzooError:
        return f"genzoo-{family}"


def _duration(seconds: Any) -> str:
    if seconds is None:
        return "n/a"
    s = float(seconds)
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60)} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60)} min"


def _hardware(env: dict[str, Any], training: dict[str, Any]) -> str:
    if env.get("gpu"):
        n = training.get("world_size", 1)
        return f"{n} x {env['gpu']}" if n and n > 1 else str(env["gpu"])
    cpu = env.get("cpu") or "unknown"
    threads = env.get("threads")
    return f"CPU ({cpu}, {threads} threads)" if threads else f"CPU ({cpu})"


def _eval_row(e: dict[str, Any]) -> dict[str, Any]:
    """An evaluation entry plus ``protocol_text`` for tables."""
    row = dict(e)
    p = e.get("protocol")
    if isinstance(p, dict):
        row["protocol_text"] = ", ".join(f"{k}: {v}" for k, v in p.items())
    else:
        row["protocol_text"] = "" if p is None else str(p)
    row.setdefault("name", str(e.get("metric", "")))
    return row


def pipeline_tag_of(family_name: str) -> str:
    try:
        return families.get(family_name).pipeline_tag
    except GenzooError:
        return "unconditional-image-generation"


def card_data(model: Any, facts: dict[str, Any] | None = None) -> Any:
    """The card's YAML metadata as a huggingface_hub ModelCardData."""
    facts = facts or card_facts(model)
    ds = facts["dataset"]
    tags = ["genzoo", model.family_name, "image-generation"]
    if facts["conditional"]:
        tags.append("class-conditional")
    evals = eval_results(model, facts)
    extra: dict[str, Any] = {}
    if evals:  # model-index needs a name; without results the key would only clutter the YAML
        extra["model_name"] = facts["repo_id"] if facts["has_repo"] else f"{model.family_name}-{ds or 'model'}"
    return ModelCardData(
        library_name="genzoo",
        license=model.meta.get("license") or DEFAULT_LICENSE,
        tags=tags,
        datasets=[hub_dataset(ds)] if ds else None,
        pipeline_tag=pipeline_tag_of(model.family_name),
        eval_results=evals or None,
        **extra,
    )


def render_card(model: Any) -> str:
    """README.md text for ``model``: YAML metadata + the family's template filled with its facts."""
    facts = card_facts(model)
    data = card_data(model, facts)
    card = ModelCard.from_template(data, template_str=template_text(model.family_name), **facts)
    return str(card)


def hub_dataset(name: str) -> str:
    """genzoo dataset spec -> the id used in the card ('folder:/my/pics' -> 'folder', never a path)."""
    base = name.split(":")[0]
    return HUB_DATASETS.get(base, base)


def eval_results(model: Any, facts: dict[str, Any]) -> list[Any]:
    """meta['evaluation'] entries {metric, value, name, protocol[, dataset, split]} -> EvalResult."""
    task = pipeline_tag_of(model.family_name)
    out = []
    for e in facts["evaluation"]:
        ds = str(e.get("dataset") or facts["dataset"] or "unknown")
        proto = e.get("protocol")
        out.append(
            EvalResult(
                task_type=task,
                dataset_type=hub_dataset(ds),
                dataset_name=ds,
                dataset_split=e.get("split"),
                metric_type=str(e["metric"]).lower(),
                metric_value=float(e["value"]),
                metric_name=str(e.get("name") or e["metric"]),
                metric_config=proto if isinstance(proto, str) else None,
                metric_args=dict(proto) if isinstance(proto, dict) else None,
            )
        )
    return out


def write_card(model: Any, directory: str | Path) -> Path:
    """Render the card into ``directory/README.md`` (atomically)."""
    path = Path(directory) / CARD_NAME
    write_text(path, render_card(model))
    return path
