"""Model cards: README.md rendered from a template in ``cards/`` with the run's facts.

Template lookup, first found wins: the family's own ``card_template`` (a plugin may ship
one), ``cards/<family>.md`` shipped with genzoo, ``cards/default.md``. Templates are
Jinja2 Markdown; huggingface_hub's ModelCard renders them and writes the YAML front
matter from a ModelCardData, so the card parses on the Hub.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from genzoo.family import CARD_NAME


def template_text(family_name: str) -> str:
    from genzoo.registry import families

    try:
        fam = families.get(family_name)
        own = getattr(fam, "card_template", None)
    except Exception:
        own = None
    if own:
        p = Path(own)
        return p.read_text() if p.is_file() else str(own)
    for base in template_dirs():
        for name in (f"{family_name}.md", "default.md"):
            f = base / name
            if f.is_file():
                return f.read_text()
    raise FileNotFoundError("genzoo's cards/default.md is missing; reinstall genzoo")


def template_dirs() -> list[Any]:
    """cards/ of a source checkout (editable installs), then the copy inside an installed wheel."""
    dirs: list[Any] = []
    checkout = Path(__file__).resolve().parent.parent / "cards"
    if checkout.is_dir():
        dirs.append(checkout)
    try:
        dirs.append(resources.files("genzoo.card_templates"))
    except (ModuleNotFoundError, TypeError):
        pass
    return dirs


def card_facts(model: Any) -> dict[str, Any]:
    cfg = model.config.to_dict()
    data = model.meta.get("data", {})
    training = model.meta.get("training", {})
    env = training.get("environment", {})
    return {
        "family": model.family_name,
        "config": cfg,
        "data": data,
        "dataset": data.get("name", cfg.get("data", "")),
        "training": training,
        "steps": training.get("steps", 0),
        "wall_time": training.get("wall_time_s"),
        "hardware": env.get("gpu") or env.get("cpu") or "",
        "device": training.get("device", ""),
        "environment": env,
        "evaluation": model.meta.get("evaluation", []),
        "repo_id": model.meta.get("repo_id", "<user>/<model>"),
        "conditional": model.is_conditional,
        "num_classes": model.config.num_classes,
    }


def render_card(model: Any) -> str:
    from huggingface_hub import ModelCard, ModelCardData

    from genzoo.registry import families

    facts = card_facts(model)
    try:
        pipeline = families.get(model.family_name).pipeline_tag
    except Exception:
        pipeline = "unconditional-image-generation"
    ds = facts["dataset"]
    data = ModelCardData(
        library_name="genzoo",
        license="mit",
        tags=["genzoo", model.family_name, "image-generation"],
        datasets=[_hub_dataset(ds)] if ds else None,
        pipeline_tag=pipeline,
        eval_results=_eval_results(model, facts) or None,
        model_name=facts["repo_id"],
    )
    card = ModelCard.from_template(data, template_str=template_text(model.family_name), **facts)
    return str(card)


def _hub_dataset(name: str) -> str:
    return {"fashion-mnist": "zalando-datasets/fashion_mnist", "digits": "sklearn-digits"}.get(name, name.split(":")[0])


def _eval_results(model: Any, facts: dict[str, Any]) -> list[Any]:
    """meta['evaluation'] items {metric, value, feature_extractor, num_samples} -> EvalResult."""
    from huggingface_hub import EvalResult

    out = []
    for e in facts["evaluation"]:
        out.append(
            EvalResult(
                task_type=model.meta.get("task_type", "unconditional-image-generation"),
                dataset_type=_hub_dataset(facts["dataset"]),
                dataset_name=facts["dataset"],
                metric_type=str(e["metric"]).lower(),
                metric_value=float(e["value"]),
                metric_name=e.get("name", e["metric"]),
                metric_config=e.get("protocol"),
            )
        )
    return out


def write_card(model: Any, directory: str | Path) -> Path:
    from genzoo.io import write_text

    path = Path(directory) / CARD_NAME
    write_text(path, render_card(model))
    return path
