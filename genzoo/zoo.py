"""The zoo: run a family's reference recipe, evaluate it, store and tabulate the results.

* :func:`recipes` / :func:`get_recipe`: every installed family's reference recipes
  (``Family.reference_recipes``), by full name ``<family>/<recipe>``.
* :func:`run_recipe`: train with the one engine (:func:`genzoo.engine.train`), evaluate
  (:func:`evaluate_run`), write ``RUN/zoo-result.json`` and the model card with the evaluation.
* :func:`load_results` / :func:`render_table`: the stored results (one JSON file per recipe,
  ``docs/zoo/results/<family>/<recipe>.json``) and the Markdown table of docs/zoo.md made from them.
* :func:`push_run`: publish a finished, evaluated run with :func:`genzoo.hub.push`.

Evaluation, by capability (no family is named here):

* ``Samples``: FID, KID, precision, recall, density and coverage (genzoo.metrics) of ``eval_n``
  samples drawn with the recipe's sampler, in the feature space of genzoo's classifier for the
  data (Inception-v3 for other data);
* ``HasLikelihood``: held-out bits per dimension on the test split (exact, or the negative
  ELBO for a bound), the family's own metric;
* ``ConditionalOnLabels`` (when conditional): label accuracy, the share of samples drawn for
  class k that the data's shipped classifier calls k;
* ``TranslatesImages`` (no ``Samples``): held-out inputs from ``Family.heldout_translations``
  are translated; FID ... of the translations against the held-out reference images, and
  PSNR against the targets when the data is paired.
"""

from __future__ import annotations

import datetime
import difflib
import math
import os
import platform
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genzoo.capabilities import ConditionalOnLabels, HasLikelihood, Samples, TranslatesImages, has_capability
from genzoo.errors import GenzooError
from genzoo.family import Family, GenerativeModel, environment
from genzoo.io import read_json, write_json, write_text
from genzoo.recipes import ReferenceRecipe, parse_budget
from genzoo.registry import families

RESULT_NAME = "zoo-result.json"
RESULT_SCHEMA = 1
#: the metrics of the table, in order: key, column title, better
TABLE_METRICS = (("fid", "FID", "lower"), ("kid", "KID", "lower"), ("precision", "precision", "higher"),
                 ("recall", "recall", "higher"), ("coverage", "coverage", "higher"))


@dataclass(frozen=True)
class Entry:
    """A recipe with the family that declares it."""

    family: str
    recipe: ReferenceRecipe

    @property
    def name(self) -> str:
        return f"{self.family}/{self.recipe.name}"


# ------------------------------------------------------------------------------------------
# recipes
# ------------------------------------------------------------------------------------------
def recipes() -> dict[str, Entry]:
    """Every installed family's reference recipes by full name, sorted; a family whose
    declaration is not a tuple of ReferenceRecipe is an error naming it."""
    out: dict[str, Entry] = {}
    for fam_name in families.names():
        declared = getattr(families.get(fam_name), "reference_recipes", ()) or ()
        for r in declared:
            if not isinstance(r, ReferenceRecipe):
                raise GenzooError(f"family {fam_name} declares a reference recipe that is a {type(r).__name__}, "
                                  "not a genzoo.plugin.ReferenceRecipe")
            e = Entry(fam_name, r)
            if e.name in out:
                raise GenzooError(f"family {fam_name} declares the reference recipe '{r.name}' twice")
            out[e.name] = e
    return dict(sorted(out.items()))


def get_recipe(name: str) -> Entry:
    """A recipe by full name, or a one-line error with the closest names."""
    known = recipes()
    if name in known:
        return known[name]
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    fam = name.partition("/")[0]
    also = (f" ({fam}'s: {', '.join(n.partition('/')[2] for n in known if n.startswith(fam + '/'))})"
            if any(n.startswith(fam + "/") for n in known) and not close else "")
    raise GenzooError(f"unknown recipe '{name}'{hint}{also}; `genzoo zoo list` shows them all")


def matching(pattern: str | None) -> list[Entry]:
    """Recipes whose full name contains ``pattern`` or matches it as a glob (``*-cpu``)."""
    import fnmatch  # here: only pattern listing needs it

    items = list(recipes().values())
    if not pattern:
        return items
    return [e for e in items if pattern in e.name or fnmatch.fnmatch(e.name, pattern)]


def check_overrides(entry: Entry) -> None:
    """The recipe's config overrides must be fields of its family's config, with valid values."""
    fam = families.get(entry.family)
    try:
        fam.default_config().update(dict(entry.recipe.overrides), source=f"recipe {entry.name}")
    except GenzooError as e:
        raise GenzooError(f"recipe {entry.name} has a bad override: {e}") from None


# ------------------------------------------------------------------------------------------
# where results live
# ------------------------------------------------------------------------------------------
def default_results_dir() -> Path:
    """``$GENZOO_ZOO_RESULTS``, else docs/zoo/results of the source checkout genzoo runs from."""
    env = os.environ.get("GENZOO_ZOO_RESULTS")
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[1] / "docs" / "zoo" / "results"


def result_path(results_dir: str | Path, name: str) -> Path:
    """docs/zoo/results/<family>/<recipe>.json for the recipe ``<family>/<recipe>``."""
    fam, _, rec = name.partition("/")
    return Path(results_dir) / fam / f"{rec}.json"


def read_result(path: str | Path) -> dict[str, Any]:
    """One stored result; a one-line error for a file that is not one."""
    p = Path(path)
    data = read_json(p, "zoo result")
    if not isinstance(data, dict) or "recipe" not in data or "metrics" not in data:
        raise GenzooError(f"{p} is not a zoo result (no 'recipe' and 'metrics'); results are written by `genzoo zoo run`")
    return data


def load_results(results_dir: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """Stored results by recipe name (a missing folder: none)."""
    d = Path(results_dir) if results_dir is not None else default_results_dir()
    out: dict[str, dict[str, Any]] = {}
    if not d.is_dir():
        return out
    for p in sorted(d.glob("*/*.json")):
        r = read_result(p)
        out[str(r["recipe"])] = r
    return out


# ------------------------------------------------------------------------------------------
# running
# ------------------------------------------------------------------------------------------
def hardware_string(device: torch.device | str) -> str:
    """What the numbers were measured on, e.g. 'CPU: AMD EPYC 7B13, 2 threads' or 'GPU: NVIDIA H200'."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(dev)}"
    name = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    name = name or platform.processor() or platform.machine()
    return f"CPU: {name}, {torch.get_num_threads()} threads"


def default_run_dir(entry: Entry) -> Path:
    """runs/zoo/<family>-<recipe>."""
    return Path("runs") / "zoo" / f"{entry.family}-{entry.recipe.name}"


def command_for(name: str, budget: str | None, eval_n: int | None) -> str:
    """The command that reproduces a run (its run directory aside)."""
    args = ["genzoo", "zoo", "run", name]
    if budget:
        args += ["--budget", budget]
    if eval_n is not None:
        args += ["--eval-n", str(eval_n)]
    return shlex.join(args)


def check_hardware(entry: Entry, device: str) -> None:
    """A GPU recipe on a machine (or --device) without CUDA is refused, naming the CPU recipes."""
    if entry.recipe.hardware != "gpu":
        return
    dev = (device or "auto").lower()
    if not torch.cuda.is_available() or not (dev == "auto" or dev.startswith("cuda")):
        cpu = [n for n, e in recipes().items() if e.family == entry.family and e.recipe.hardware == "cpu"]
        why = "this machine has no CUDA GPU" if not torch.cuda.is_available() else f"--device {device} is not a GPU"
        raise GenzooError(f"recipe {entry.name} needs a GPU and {why}; run a CPU recipe instead"
                          + (f" ({', '.join(cpu)})" if cpu else ""))


def run_recipe(
    name: str,
    *,
    budget: str | None = None,
    out: str | Path | None = None,
    device: str = "auto",
    eval_n: int | None = None,
    eval_device: str | None = None,
    progress: bool | None = None,
    data_dir: str | None = None,
) -> dict[str, Any]:
    """Train the recipe ``name`` with the engine, evaluate the result, and write
    ``RUN/zoo-result.json``, config.json's evaluation and the model card. Returns the result.

    ``budget`` ('60s', '500steps') replaces the recipe's budget (the result then says it was
    shortened); ``eval_n`` replaces the number of images evaluated."""
    from genzoo.engine import train  # here: the trainer is only needed to run a recipe

    entry = get_recipe(name)
    r = entry.recipe
    budget = None if is_recipe_budget(budget, r) else budget
    seconds, steps = parse_budget(budget) if budget is not None else (None, None)
    if eval_n is not None and eval_n < 2:
        raise GenzooError(f"--eval-n must be at least 2, got {eval_n}")
    check_hardware(entry, device)
    check_overrides(entry)
    run_dir = Path(out) if out is not None else default_run_dir(entry)
    if (run_dir / "config.json").exists():
        raise GenzooError(f"'{run_dir}' already holds a run; choose another --out or move it away")
    if budget is None:
        max_time, steps = r.max_time, r.steps
    else:
        max_time = seconds
    t0 = time.perf_counter()
    trained = train(entry.family, out=run_dir, steps=steps, max_time=max_time, device=device, precision=r.precision,
                    progress=progress, data_dir=data_dir, data=r.data, **dict(r.overrides))
    train_wall = time.perf_counter() - t0
    # a GPU recipe samples its (many) evaluation images on the GPU it trained on
    eval_on = eval_device or ("cuda" if r.hardware == "gpu" else "cpu")
    return finish_run(entry, trained.run_dir, budget=budget, eval_n=eval_n, device=eval_on,
                      data_dir=data_dir, train_wall_s=train_wall)


def is_recipe_budget(budget: str | None, recipe: ReferenceRecipe) -> bool:
    """Whether ``budget`` ('10m', '600s', '500steps') is the recipe's own budget, so a run
    given it explicitly is a full-budget result (recordable), not a shortened one."""
    if budget is None:
        return True
    seconds, steps = parse_budget(budget)
    own = parse_budget(recipe.max_time)[0] if recipe.max_time else None
    return recipe.steps == steps if recipe.max_time is None else (seconds == own and steps is None and recipe.steps is None)


def finish_run(entry: Entry, run_dir: str | Path, *, budget: str | None = None, eval_n: int | None = None,
               device: str = "cpu", data_dir: str | None = None, train_wall_s: float | None = None) -> dict[str, Any]:
    """Evaluate a trained run of ``entry`` and write its result JSON, config.json and card."""
    from genzoo.cards import write_card  # here: cards pull in jinja2 and huggingface_hub
    from genzoo.hub import load_from_dir  # here: the Hub client is only needed to read the run back

    run = Path(run_dir)
    model = load_from_dir(run)
    n = eval_n if eval_n is not None else entry.recipe.eval_n
    t0 = time.perf_counter()
    ev = evaluate_run(model, entry, n=n, device=device, data_dir=data_dir)
    eval_wall = time.perf_counter() - t0
    training = model.meta.get("training") or {}
    env = training.get("environment") or environment()
    result: dict[str, Any] = {
        "schema": RESULT_SCHEMA,
        "recipe": entry.name,
        "family": entry.family,
        "dataset": entry.recipe.dataset,
        "data": entry.recipe.data,
        "purpose": entry.recipe.purpose,
        "hardware_kind": entry.recipe.hardware,
        "budget": {"recipe": entry.recipe.budget_text, "used": budget or entry.recipe.budget_text,
                   "full": budget is None},
        "metrics": ev["metrics"],
        "own_metric": ev["own_metric"],
        "evaluation": ev["protocol"],
        "steps": int(training.get("steps", 0)),
        "images_seen": int(training.get("images_seen", 0)),
        "wall_time_s": round(float(training.get("wall_time_s", train_wall_s or 0.0)), 1),
        "eval_time_s": round(eval_wall, 3),
        "hardware": hardware_string(training.get("device", "cpu")),
        "precision": training.get("precision", entry.recipe.precision),
        "versions": {"genzoo": env.get("genzoo"), "torch": env.get("torch"),
                     "plugin": (model.config_dict().get("plugin") or {})},
        "command": command_for(entry.name, budget, eval_n),
        "date": datetime.date.today().isoformat(),
    }
    write_json(run / RESULT_NAME, result)
    model.meta["evaluation"] = ev["card"]
    model.meta["zoo"] = {"recipe": entry.name, "command": result["command"], "full_budget": budget is None}
    write_json(run / "config.json", model.config_dict())
    write_card(model, run)
    return result


def _metric_results(real: Tensor, fake: Tensor, seed: int = 0) -> dict[str, float]:
    """FID, KID (mean and std), precision, recall, density, coverage from features (N, D)."""
    from genzoo.metrics.stats import (  # here: only evaluation needs them (genzoo.metrics loads scipy)
        frechet_distance, gaussian_stats, kid_estimate, precision_recall_density_coverage,
    )

    mu1, s1 = gaussian_stats(real)
    mu2, s2 = gaussian_stats(fake)
    kid, kid_std, _, _ = kid_estimate(real, fake, subsets=100, subset_size=1000, seed=seed)
    k = min(3, len(real) - 1, len(fake) - 1)
    prdc = precision_recall_density_coverage(real, fake, k_pr=k, k_dc=min(5, len(real) - 1, len(fake) - 1))
    return {"fid": frechet_distance(mu1, s1, mu2, s2), "kid": kid,
            "kid_std": float("nan") if kid_std is None else kid_std, **prdc}


def evaluate_run(model: GenerativeModel, entry: Entry, *, n: int, device: str = "cpu", seed: int = 0,
                 data_dir: str | None = None) -> dict[str, Any]:
    """Evaluate a trained model as its recipe says (see the module docstring).

    Returns {"metrics": {fid, kid, kid_std, precision, recall, density, coverage},
    "own_metric": {key, name, value, better} or None, "protocol": {...}, "card": [card entries]}.
    """
    from genzoo.metrics import evaluate  # here: the metrics load scipy and the classifiers
    from genzoo.metrics.extractors import default_extractor  # here: as above

    data = entry.recipe.data
    card: list[dict[str, Any]] = []
    own: dict[str, Any] | None = None
    spec = default_extractor(data)
    if has_capability(model, Samples):
        report = evaluate(model, data=data, metrics=["fid", "kid", "prdc"], n=n, seed=seed, device=device,
                          sampler=entry.recipe.sampler, data_dir=data_dir)
        metrics = {r.metric: float(r.value) for r in report.results}
        kid = report.get("kid")
        metrics["kid_std"] = float(kid.std) if kid is not None and kid.std is not None else float("nan")
        card = report.card_entries()
        info = report.info
        protocol = {"kind": "samples", "num_generated": info["num_images"], "num_reference": info["num_reference"],
                    "reference": f"{data} {info['split']}", "features": info["extractor"]["label"],
                    "image_size": info["image_size"], "sampler": info.get("sampler"), "seed": seed}
        spec = info["extractor"]["spec"]
    elif has_capability(model, TranslatesImages):
        metrics, own, protocol, card = _evaluate_translations(model, entry, n=n, device=device, seed=seed,
                                                              data_dir=data_dir)
    else:
        raise GenzooError(f"a {model.family_name} model neither samples nor translates, so the zoo cannot evaluate it")
    if own is None and has_capability(model, HasLikelihood):
        own = _heldout_bits_per_dim(model, data, n=min(n, 1000), seed=seed, data_dir=data_dir)
    if own is None and has_capability(model, ConditionalOnLabels) and model.is_conditional:
        own = _label_accuracy(model, data, n=n, seed=seed, spec=spec, sampler=entry.recipe.sampler)
    if own is not None:
        card.append({"metric": own["key"], "value": own["value"], "name": own["name"], "protocol": own["protocol"],
                     "dataset": data, "split": own.get("split", "test")})
    return {"metrics": {k: _finite(v) for k, v in metrics.items()}, "own_metric": own, "protocol": protocol,
            "card": card}


def _finite(v: float) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def _heldout_bits_per_dim(model: GenerativeModel, data: str, *, n: int, seed: int,
                          data_dir: str | None) -> dict[str, Any] | None:
    """Mean bits/dim of up to ``n`` test images (exact, or the negative ELBO for a bound)."""
    from genzoo.data import load_dataset  # here: only the likelihood evaluation loads the test split

    try:
        test = load_dataset(data, split="test", image_size=model.config.image_size, data_dir=data_dir)
    except GenzooError:
        return None  # data without a test split: no held-out number rather than a wrong one
    x = (test.images[:n].float() + 1) / 2
    y = test.labels[:n] if test.labels is not None and model.is_conditional else None
    bpd, exact = [], True
    with torch.inference_mode():
        for i in range(0, len(x), 250):
            lk = model.log_likelihood(x[i:i + 250], None if y is None else y[i:i + 250], seed=seed)  # type: ignore[attr-defined]
            bpd.append(lk.bits_per_dim.float().cpu())
            exact = exact and bool(lk.exact)
    value = float(torch.cat(bpd).mean())
    kind = "exact" if exact else "upper bound (negative ELBO)"
    return {"key": "bits_per_dim", "name": f"bits/dim, held-out ({kind})", "value": value, "better": "lower",
            "protocol": f"{len(x)} {data} test images, {kind}", "split": "test"}


def _label_accuracy(model: GenerativeModel, data: str, *, n: int, seed: int, spec: str,
                    sampler: str | None = None) -> dict[str, Any] | None:
    """Share of samples drawn for class k (with the recipe's ``sampler``, as the other metrics)
    that the data's classifier calls k."""
    from genzoo.metrics.extractors import get_extractor  # here: only evaluation loads the classifier

    ex = get_extractor(spec)
    if not ex.has_logits or spec != data:  # only genzoo's own classifier of the same data knows its classes
        return None
    k = model.config.num_classes
    labels = torch.arange(n) % k
    images = model.sample(n, seed=seed, labels=labels, sampler=sampler)
    _, logits = ex.extract(images)
    if logits is None or logits.shape[1] != k:
        return None
    acc = float((logits.argmax(1) == labels).float().mean())
    return {"key": "label_accuracy", "name": f"label accuracy ({ex.short})", "value": acc, "better": "higher",
            "protocol": f"{n} samples, classes cycled 0..{k - 1}, seed {seed}", "split": "generated"}


def _evaluate_translations(model: GenerativeModel, entry: Entry, *, n: int, device: str, seed: int,
                           data_dir: str | None) -> tuple[dict[str, float], dict[str, Any] | None, dict[str, Any], list]:
    from genzoo.data import load_dataset  # here: only translation evaluation loads the test split
    from genzoo.metrics.extractors import default_extractor, get_extractor  # here: evaluation only

    fam: Family = families.get(entry.family)
    data = entry.recipe.data
    test = load_dataset(data, split="test", data_dir=data_dir)
    test = fam.prepare_data(test, model.config)
    got = fam.heldout_translations(test, model.config)
    if got is None:
        raise GenzooError(f"family {entry.family} gives no held-out translations to judge "
                          "(Family.heldout_translations), so the zoo cannot evaluate it")
    inputs, refs, paired = got
    inputs, refs = (inputs[:n].float() + 1) / 2, (refs[:n].float() + 1) / 2
    if len(inputs) < 2 or len(refs) < 2:
        raise GenzooError(f"the test split of '{data}' gives too few held-out images to evaluate ({len(inputs)})")
    with torch.inference_mode():
        out = model.translate(inputs, seed=seed)  # type: ignore[attr-defined]
    spec = default_extractor(data)
    ex = get_extractor(spec)
    real_f, _ = ex.extract(refs)
    fake_f, _ = ex.extract(out)
    metrics = _metric_results(real_f, fake_f, seed=seed)
    protocol = {"kind": "translations", "num_generated": len(out), "num_reference": len(refs),
                "reference": f"{data} test ({'paired targets' if paired else 'output-domain images'})",
                "features": ex.label, "image_size": int(out.shape[-1]), "sampler": None, "seed": seed}
    proto_text = f"translations of {len(out)} held-out inputs vs {len(refs)} held-out {data} test images"
    card = [{"metric": k, "value": float(v), "name": f"{title} ({ex.label}, translations)", "protocol": proto_text,
             "dataset": data, "split": "test"}
            for k, title, _ in TABLE_METRICS if (v := metrics.get(k)) is not None and math.isfinite(v)]
    own = None
    if paired:
        mse = ((out - refs) ** 2).flatten(1).mean(1).clamp_min(1e-10)
        psnr = float((10 * torch.log10(1 / mse)).mean())
        own = {"key": "psnr", "name": "PSNR against the held-out targets (dB)", "value": psnr, "better": "higher",
               "protocol": f"{len(out)} {data} test pairs, images in [0, 1]", "split": "test"}
    return metrics, own, protocol, card


# ------------------------------------------------------------------------------------------
# the table
# ------------------------------------------------------------------------------------------
def _num(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    v = float(v)
    if v != 0 and abs(v) < 10 ** -digits:
        return f"{v:.1e}"
    return f"{v:.{digits}f}" if abs(v) < 100 else f"{v:.1f}"


def _duration(s: Any) -> str:
    if s is None:
        return "–"
    s = float(s)
    return f"{s / 60:.1f} min" if s >= 60 else f"{s:.0f} s"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_table(entries: list[Entry], results: dict[str, dict[str, Any]]) -> str:
    """docs/zoo.md: per dataset, one row per recipe; recipes without a result are "not measured".
    Deterministic: the same recipes and results give the same text (no dates of its own)."""
    by_data: dict[str, list[Entry]] = {}
    for e in sorted(entries, key=lambda e: e.name):
        by_data.setdefault(e.recipe.dataset, []).append(e)
    order = sorted(by_data, key=lambda d: (d not in ("digits", "fashion-mnist"), d))
    lines = [
        "# The zoo's results",
        "",
        "<!-- generated by `genzoo zoo table` from docs/zoo/results/*/*.json; do not edit by hand -->",
        "",
        "Every family's reference recipes (`genzoo zoo list`) with their last measured results.",
        "A recipe is run with `genzoo zoo run NAME`: it trains with the family's engine recipe for the",
        "recipe's budget and evaluates the result; the JSON it writes, copied to",
        "`docs/zoo/results/<family>/<recipe>.json`, is what this page is made from (`genzoo zoo table`).",
        "",
        "FID and KID are in the feature space of genzoo's own classifier for the data (digits,",
        "Fashion-MNIST; Inception-v3 for other data), so they compare families with each other, not",
        "with published Inception FIDs. Lower FID/KID is better; precision (realism), recall",
        "(variety) and coverage are in [0, 1], higher is better. *Own metric* is the family's own",
        "measure: held-out bits/dim for models with a likelihood (exact for the flow, the negative",
        "ELBO for VAEs), label accuracy by the shipped classifier for conditional models, PSNR",
        "against held-out targets for paired translation. The two bits/dim do not compare: the",
        "flow's is a density over 8-bit pixels, a VAE's (Bernoulli likelihood, the default) scores",
        "gray values in [0, 1] as probabilities. Image-to-image families are scored on",
        "translations of held-out test images. *Evaluated* is the number of generated images the",
        "metrics saw (FID is biased upwards for smaller numbers). Wall time is the training's; CPU",
        "results were measured on the hardware named in the row, which may have been shared with",
        "other work.",
        "",
    ]
    for d in order:
        lines += [f"## {d}", "",
                  "| recipe | FID | KID | precision | recall | coverage | own metric | evaluated | steps "
                  "| images seen | wall time | hardware | command |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for e in by_data[d]:
            res = results.get(e.name)
            if res is None:
                note = f"not measured ({e.recipe.budget_text}, {e.recipe.hardware}"
                note += f"; needs {e.recipe.needs})" if e.recipe.needs else ")"
                lines.append(f"| `{e.name}` | {_cell(note)} | | | | | | | | | | | `genzoo zoo run {e.name}` |")
                continue
            m = res.get("metrics") or {}
            own = res.get("own_metric")
            own_s = f"{_num(own.get('value'))} {own.get('name', '')}".strip() if own else "–"
            kid = _num(m.get("kid"), 4)
            if m.get("kid_std") is not None:
                kid += f" ± {_num(m.get('kid_std'), 4)}"
            n_gen = (res.get("evaluation") or {}).get("num_generated")
            evaluated = f"{int(n_gen):,}" if n_gen is not None else "–"
            budget = res.get("budget") or {}
            name = f"`{e.name}`" + ("" if budget.get("full", True) else f" (shortened: {budget.get('used')})")
            cells = [name, _num(m.get("fid"), 2), kid, _num(m.get("precision")), _num(m.get("recall")),
                     _num(m.get("coverage")), own_s, evaluated, f"{int(res.get('steps', 0)):,}",
                     f"{int(res.get('images_seen', 0)):,}", _duration(res.get("wall_time_s")),
                     str(res.get("hardware", "–")), f"`{res.get('command', '')}`"]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        lines.append("")
    orphans = sorted(set(results) - {e.name for e in entries})
    if orphans:
        lines += ["Stored results of recipes no installed family declares: " + ", ".join(f"`{o}`" for o in orphans), ""]
    return "\n".join(lines)


def write_table(out: str | Path, *, results_dir: str | Path | None = None, pattern: str | None = None) -> str:
    """Render the table from the stored results and write it atomically; returns the text."""
    text = render_table(matching(pattern), load_results(results_dir))
    write_text(Path(out), text)
    return text


# ------------------------------------------------------------------------------------------
# publishing
# ------------------------------------------------------------------------------------------
def resolve_run(name_or_run: str) -> tuple[Path, dict[str, Any]]:
    """A run directory, or a recipe name (its default run directory) -> (run dir, its result)."""
    p = Path(name_or_run).expanduser()
    if not p.is_dir():
        if "/" in name_or_run and not p.exists() and not name_or_run.startswith((".", "/", "~")):
            entry = get_recipe(name_or_run)
            p = default_run_dir(entry)
            if not p.is_dir():
                raise GenzooError(f"recipe {entry.name} has no run in {p}; run `genzoo zoo run {entry.name}` first "
                                  "or pass the run directory")
        else:
            raise GenzooError(f"run directory '{name_or_run}' not found")
    res = p / RESULT_NAME
    if not res.is_file():
        raise GenzooError(f"'{p}' has no zoo results ({RESULT_NAME}); evaluate it first with `genzoo zoo run` "
                          "(a run made by `genzoo train` is published with `genzoo push`)")
    return p, read_result(res)


def repo_name(result: dict[str, Any]) -> str:
    """dcgan/fashion-mnist-10min-cpu -> dcgan-fashion-mnist-10min-cpu."""
    return str(result["recipe"]).replace("/", "-")


def push_run(name_or_run: str, org: str, *, private: bool = False, revision: str | None = None) -> Any:
    """Publish an evaluated zoo run to ``ORG/<family>-<recipe>``; returns genzoo.hub's PushResult."""
    from genzoo.hub import push  # here: the Hub client is only needed to publish

    if not org or "/" in org:
        raise GenzooError(f"--to takes a user or organisation name (no '/'), got {org!r}")
    run, result = resolve_run(name_or_run)
    repo_id = f"{org}/{repo_name(result)}"
    budget = result.get("budget") or {}
    msg = f"genzoo zoo: {result['recipe']}" + ("" if budget.get("full", True) else f" (shortened budget {budget.get('used')})")
    return push(run, repo_id, private=private, revision=revision, message=msg)


def describe(entry: Entry, result: dict[str, Any] | None) -> dict[str, str]:
    """One `genzoo zoo list` row: name, budget, hardware, last result, purpose (plain text)."""
    if result is None:
        last = "not measured"
    else:
        m = result.get("metrics") or {}
        own = result.get("own_metric")
        last = f"FID {_num(m.get('fid'), 2)}" + (f", {own['name']} {_num(own['value'])}" if own else "")
        last += f" ({result.get('date', '?')})"
    purpose = entry.recipe.purpose + (f"; needs {entry.recipe.needs}" if entry.recipe.needs else "")
    return {"recipe": entry.name, "budget": entry.recipe.budget_text, "hardware": entry.recipe.hardware,
            "last result": last, "purpose": purpose}


__all__ = [
    "Entry", "RESULT_NAME", "check_hardware", "default_results_dir", "default_run_dir", "describe", "evaluate_run",
    "finish_run", "get_recipe", "load_results", "matching", "push_run", "recipes", "render_table", "result_path",
    "run_recipe", "write_table",
]
