"""`genzoo zoo`: reference recipes, running one end to end, the results table, publishing a run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from genzoo.errors import GenzooError
from genzoo.recipes import ReferenceRecipe, parse_budget, standard_recipes
from genzoo.registry import families
from tests.fixtures_zoo import ZOO_BUDGET, ZOO_EVAL_N, ZOO_RECIPE
from tests.test_hub import hub  # noqa: F401  (the loopback Hub fixture)

BUILT_IN = ["ae", "cgan", "cvae", "cyclegan", "dcgan", "diffusion", "flow", "gan", "pix2pix", "vae", "wgan", "wgan-gp"]
IMAGE_TO_IMAGE = {"pix2pix", "cyclegan"}


# ------------------------------------------------------------------------------------------
# recipes
# ------------------------------------------------------------------------------------------
def test_every_built_in_family_declares_cpu_recipes_on_digits_and_fashion_mnist():
    from genzoo.zoo import check_overrides, recipes

    all_recipes = recipes()
    for fam in BUILT_IN:
        mine = [e for e in all_recipes.values() if e.family == fam]
        assert mine, f"{fam} declares no reference recipe"
        cpu_data = {e.recipe.dataset for e in mine if e.recipe.hardware == "cpu"}
        assert {"digits", "fashion-mnist"} <= cpu_data, fam
        for e in mine:
            assert e.name == f"{fam}/{e.recipe.name}"
            assert e.recipe.purpose and e.recipe.budget_text
            check_overrides(e)  # every override is a field of the family's config, with a valid value
            if e.recipe.hardware == "gpu":
                assert e.recipe.needs and "GPU" in e.recipe.needs and e.recipe.precision == "bf16"
        if fam not in IMAGE_TO_IMAGE:  # the image generators also have GPU recipes
            assert any(e.recipe.hardware == "gpu" and e.recipe.dataset == "cifar10" for e in mine), fam
    # equal CPU time for every family, 30 minutes for diffusion
    budgets = {e.name: e.recipe.max_time for e in all_recipes.values() if e.recipe.hardware == "cpu"}
    assert budgets["dcgan/fashion-mnist-10min-cpu"] == "10m"
    assert budgets["diffusion/fashion-mnist-30min-cpu"] == "30m"
    assert {b for n, b in budgets.items() if not n.startswith("diffusion/")} == {"10m"}


def test_zoo_list_shows_every_family_and_filters(cli, tmp_path):
    code, out, err = cli("zoo", "list", "--results", tmp_path)
    assert code == 0, err
    for fam in BUILT_IN:
        assert f"{fam}/" in out
    assert "not measured" in out and "cifar10-32px-30min-gpu" in out
    code, out, err = cli("zoo", "list", "fashion-mnist-10min", "--results", tmp_path)
    assert code == 0, err
    assert "dcgan/fashion-mnist-10min-cpu" in out and "digits-10min" not in out
    code, out, _ = cli("zoo", "list", "*-gpu", "--results", tmp_path)
    assert "celeba-64px-30min-gpu" in out and "-cpu" not in out


def test_zoo_list_shows_stored_results(cli, tmp_path):
    write_result(tmp_path, "vae/digits-10min-cpu", fid=12.5, own=("bits_per_dim", "bits/dim, held-out", 1.234))
    code, out, err = cli("zoo", "list", "vae/digits", "--results", tmp_path)
    assert code == 0, err
    assert "FID 12.50" in out and "1.234" in out


@pytest.mark.parametrize("text, want", [
    ("60s", (60.0, None)), ("10m", (600.0, None)), ("1h30m", (5400.0, None)), ("500steps", (None, 500)),
    ("500 steps", (None, 500)), ("1step", (None, 1)), (" 2M ", (120.0, None)),
])
def test_parse_budget(text, want):
    assert parse_budget(text) == want


@pytest.mark.parametrize("text", ["", "steps", "5 parsecs", "0steps", "-3s", "0s", "10m500steps", "1.5steps"])
def test_parse_budget_refuses(text):
    with pytest.raises(GenzooError):
        parse_budget(text)


def test_reference_recipe_checks_its_fields():
    with pytest.raises(GenzooError, match="needs a budget"):
        ReferenceRecipe("x", "digits", "p")
    with pytest.raises(GenzooError, match="hardware must be cpu or gpu"):
        ReferenceRecipe("x", "digits", "p", max_time="1m", hardware="tpu")
    with pytest.raises(GenzooError, match="lowercase"):
        ReferenceRecipe("X Y", "digits", "p", steps=3)
    with pytest.raises(GenzooError, match="cannot read duration"):
        ReferenceRecipe("x", "digits", "p", max_time="soon")
    r = ReferenceRecipe("x", "folder:data/y", "p", max_time="5m", steps=100, dataset="y")
    assert r.budget_text == "5m or 100 steps" and r.dataset == "y"
    names = [r.name for r in standard_recipes(cpu_minutes=7, gpu=("celeba",))]
    assert names == ["digits-7min-cpu", "fashion-mnist-7min-cpu", "celeba-64px-30min-gpu"]
    with pytest.raises(GenzooError, match="no standard GPU recipe"):
        standard_recipes(gpu=("imagenet",))
    cpu, gpu = standard_recipes(datasets=("digits",), gpu=("celeba",), overrides={"lr": 1e-3},
                                cpu_overrides={"dropout": 0.0}, gpu_overrides={"width": 64})
    assert cpu.overrides == {"lr": 1e-3, "dropout": 0.0}  # cpu_overrides reach the CPU recipes only
    assert gpu.overrides == {"image_size": 64, "lr": 1e-3, "width": 64}


def test_unknown_recipe_suggests_close_names():
    from genzoo.zoo import get_recipe

    with pytest.raises(GenzooError, match="did you mean 'wgan-gp/digits-10min-cpu'"):
        get_recipe("wgan-gp/digit-10min-cpu")
    with pytest.raises(GenzooError, match="unknown recipe"):
        get_recipe("nothing-like-it")


def test_gpu_recipe_is_refused_without_a_gpu(monkeypatch):
    import torch

    from genzoo.zoo import check_hardware, get_recipe

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(GenzooError, match="needs a GPU and this machine has no CUDA GPU.*dcgan/digits-10min-cpu"):
        check_hardware(get_recipe("dcgan/celeba-64px-30min-gpu"), "auto")
    check_hardware(get_recipe("dcgan/digits-10min-cpu"), "auto")  # a CPU recipe runs anywhere


# ------------------------------------------------------------------------------------------
# zoo run, end to end
# ------------------------------------------------------------------------------------------
def test_zoo_run_writes_result_json_and_card(zoo_run):
    res = json.loads((zoo_run / "zoo-result.json").read_text())
    assert res["recipe"] == ZOO_RECIPE and res["family"] == "dcgan" and res["dataset"] == "digits"
    assert res["budget"] == {"recipe": "10m", "used": ZOO_BUDGET, "full": False}
    assert res["steps"] == 3 and res["images_seen"] == 3 * 64  # dcgan's default batch of 64
    assert res["wall_time_s"] > 0 and res["eval_time_s"] > 0
    m = res["metrics"]
    assert set(m) >= {"fid", "kid", "kid_std", "precision", "recall", "density", "coverage"}
    assert m["fid"] > 0 and math.isfinite(m["fid"])
    for k in ("precision", "recall", "coverage"):
        assert 0.0 <= m[k] <= 1.0
    assert res["own_metric"] is None  # an unconditional GAN has no likelihood and no labels
    ev = res["evaluation"]
    assert ev["num_generated"] == ZOO_EVAL_N and ev["features"] == "digits classifier features"
    assert ev["sampler"] == "normal"
    assert res["hardware"].startswith("CPU: ") and res["hardware_kind"] == "cpu"
    assert res["versions"]["torch"] and res["versions"]["genzoo"]
    assert res["versions"]["plugin"]["distribution"] == "genzoo-dcgan"
    assert res["command"] == f"genzoo zoo run {ZOO_RECIPE} --budget {ZOO_BUDGET} --eval-n {ZOO_EVAL_N}"
    # the card and config.json carry the same evaluation
    card = (zoo_run / "README.md").read_text()
    assert "FID (digits classifier features)" in card and "Coverage (digits classifier features)" in card
    assert f"{m['fid']:.4g}"[:4] in card
    cfg = json.loads((zoo_run / "config.json").read_text())
    fid = next(e for e in cfg["evaluation"] if e["metric"] == "fid")
    assert fid["value"] == pytest.approx(m["fid"])
    assert cfg["zoo"] == {"recipe": ZOO_RECIPE, "command": res["command"], "full_budget": False}
    assert (zoo_run / "samples.png").is_file()


def test_zoo_run_cli_prints_the_metrics(cli, tmp_path):
    out_dir = tmp_path / "run"
    code, out, err = cli("zoo", "run", "dcgan/digits-10min-cpu", "--budget", "2steps", "--eval-n", "32",
                         "--out", out_dir, "--no-progress")
    assert code == 0, err
    assert "dcgan/digits-10min-cpu: fid" in out and "2 steps, 128 images" in out
    assert (out_dir / "zoo-result.json").is_file()


def run_short(name: str, tmp_path: Path, n: int = 32) -> dict:
    from genzoo.zoo import run_recipe

    return run_recipe(name, budget="2steps", out=tmp_path / "run", eval_n=n, progress=False)


def test_own_metric_of_a_likelihood_model_is_heldout_bits_per_dim(tmp_path):
    res = run_short("vae/digits-10min-cpu", tmp_path)
    own = res["own_metric"]
    assert own["key"] == "bits_per_dim" and "upper bound" in own["name"] and own["better"] == "lower"
    assert 0 < own["value"] < 20
    card = (tmp_path / "run" / "README.md").read_text()
    assert "bits/dim, held-out (upper bound (negative ELBO))" in card


def test_own_metric_of_a_conditional_model_is_label_accuracy(tmp_path):
    res = run_short("cgan/digits-10min-cpu", tmp_path, n=40)
    own = res["own_metric"]
    assert own["key"] == "label_accuracy" and own["name"] == "label accuracy (digits classifier)"
    assert 0.0 <= own["value"] <= 1.0
    # label accuracy scores the recipe's sampler, as the other metrics do
    import torch

    from genzoo import zoo
    from genzoo.hub import load_from_dir
    from genzoo.metrics.extractors import get_extractor
    model = load_from_dir(tmp_path / "run")
    labels = torch.arange(40) % 10
    _, logits = get_extractor("digits").extract(
        model.sample(40, seed=0, labels=labels, sampler="truncated-normal", truncation=1.0))
    want = float((logits.argmax(1) == labels).float().mean())
    seen = []
    sample = model.sample
    model.sample = lambda *a, **kw: seen.append(kw.get("sampler")) or sample(*a, **kw)
    got = zoo._label_accuracy(model, "digits", n=40, seed=0, spec="digits", sampler="truncated-normal")
    assert seen == ["truncated-normal"] and got["value"] == want
    assert zoo._label_accuracy(model, "digits", n=40, seed=0, spec="digits")["value"] == own["value"]


@pytest.mark.slow
@pytest.mark.parametrize("name, own_key", [
    ("flow/digits-10min-cpu", "bits_per_dim"), ("ae/digits-10min-cpu", None), ("wgan-gp/digits-10min-cpu", None),
    ("cvae/digits-10min-cpu", "bits_per_dim"), ("diffusion/digits-30min-cpu", "label_accuracy"),
    ("pix2pix/digits-superres-10min-cpu", "psnr"), ("cyclegan/digits-3-8-10min-cpu", None),
])
def test_every_family_runs_its_digits_recipe(tmp_path, name, own_key):
    res = run_short(name, tmp_path, n=16)
    assert res["metrics"]["fid"] is not None and res["metrics"]["fid"] >= 0
    assert 0 <= res["metrics"]["coverage"] <= 1
    assert (res["own_metric"] or {}).get("key") == own_key
    if own_key == "bits_per_dim" and name.startswith("flow/"):
        assert "exact" in res["own_metric"]["name"]
    if name.startswith(("pix2pix/", "cyclegan/")):
        assert res["evaluation"]["kind"] == "translations"
        assert res["metrics"]["kid_std"] is None  # 16 translations: one KID estimate, no spread


def test_translation_metrics_give_kid_a_std_only_with_more_images_than_a_subset():
    import torch

    from genzoo.metrics.stats import mmd2_unbiased
    from genzoo.zoo import _metric_results

    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(1200, 8, generator=g), torch.randn(1100, 8, generator=g) + 0.1
    m = _metric_results(real[:300], fake[:300])  # subsets of 1000 would be all 300, every time
    assert math.isnan(m["kid_std"]) and m["kid"] == mmd2_unbiased(real[:300], fake[:300])
    m = _metric_results(real, fake)
    assert m["kid_std"] > 0 and 0 <= m["precision"] <= 1


# ------------------------------------------------------------------------------------------
# the table
# ------------------------------------------------------------------------------------------
def write_result(results: Path, name: str, *, fid: float, own: tuple[str, str, float] | None = None,
                 full: bool = True) -> dict:
    from genzoo.zoo import result_path

    fam = name.partition("/")[0]
    res = {
        "schema": 1, "recipe": name, "family": fam, "dataset": name.split("/")[1].split("-1")[0].split("-3")[0],
        "budget": {"recipe": "10m", "used": "10m" if full else "60s", "full": full},
        "metrics": {"fid": fid, "kid": fid / 1000, "kid_std": 0.0001, "precision": 0.5, "recall": 0.25,
                    "density": 0.9, "coverage": 0.75},
        "own_metric": ({"key": own[0], "name": own[1], "value": own[2], "better": "lower"} if own else None),
        "evaluation": {"kind": "samples", "num_generated": 5000, "num_reference": 5000},
        "steps": 3300, "images_seen": 211200, "wall_time_s": 600.4, "hardware": "CPU: Test CPU, 2 threads",
        "command": f"genzoo zoo run {name}", "date": "2026-11-30",
    }
    p = result_path(results, name)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(res))
    return res


def fixture_results(results: Path) -> None:
    from genzoo.zoo import result_path

    write_result(results, "dcgan/fashion-mnist-10min-cpu", fid=7.25)
    vae = write_result(results, "vae/fashion-mnist-10min-cpu", fid=21.5, own=("bits_per_dim", "bits/dim, held-out", 0.456))
    del vae["evaluation"]
    vae["metrics"]["kid_std"] = None
    result_path(results, vae["recipe"]).write_text(json.dumps(vae))
    write_result(results, "gan/digits-10min-cpu", fid=3.125, full=False)


def test_table_is_generated_from_the_stored_results(tmp_path):
    from genzoo.zoo import load_results, matching, render_table

    fixture_results(tmp_path)
    text = render_table(matching(None), load_results(tmp_path))
    assert text == render_table(matching(None), load_results(tmp_path))  # deterministic
    assert "generated by `genzoo zoo table`" in text
    sections = [line for line in text.splitlines() if line.startswith("## ")]
    assert sections[:2] == ["## digits", "## fashion-mnist"] and {"## cifar10", "## celeba"} <= set(sections)
    fashion = text.split("## fashion-mnist")[1].split("## ")[0]
    rows = [line for line in fashion.splitlines() if line.startswith("| `")]
    for fam in BUILT_IN:  # every family has a Fashion-MNIST row
        assert any(line.startswith(f"| `{fam}/") for line in rows), fam
    dcgan = next(line for line in rows if line.startswith("| `dcgan/fashion-mnist-10min-cpu`"))
    cells = [c.strip() for c in dcgan.strip("|").split("|")]
    assert cells[1:] == ["7.25", "0.0073 ± 0.0001", "0.500", "0.250", "0.750", "–", "5,000", "3,300", "211,200",
                         "10.0 min", "CPU: Test CPU, 2 threads", "`genzoo zoo run dcgan/fashion-mnist-10min-cpu`"]
    vae = next(line for line in rows if line.startswith("| `vae/fashion-mnist-10min-cpu`"))
    assert "0.456 bits/dim, held-out" in vae and "| 0.0215 |" in vae  # no std stored: none shown
    assert "| – | 3,300 |" in vae  # a result without its evaluation protocol: evaluated unknown
    unmeasured = next(line for line in rows if line.startswith("| `gan/fashion-mnist-10min-cpu`"))
    assert "not measured (10m, cpu)" in unmeasured
    gpu = next(line for line in text.splitlines() if line.startswith("| `dcgan/celeba-64px-30min-gpu`"))
    assert "not measured (30m, gpu; needs a CUDA GPU" in gpu
    assert "`gan/digits-10min-cpu` (shortened: 60s)" in text  # a shortened result says so


def test_zoo_table_command_writes_and_checks(cli, tmp_path):
    results, out = tmp_path / "results", tmp_path / "zoo.md"
    fixture_results(results)
    code, stdout, err = cli("zoo", "table", "--results", results, "--out", out)
    assert code == 0, err
    assert "3 measured" in stdout
    from genzoo.zoo import load_results, matching, render_table

    assert out.read_text() == render_table(matching(None), load_results(results))
    code, stdout, err = cli("zoo", "table", "--results", results, "--out", out, "--check")
    assert code == 0 and "up to date" in stdout
    write_result(results, "flow/digits-10min-cpu", fid=9.0)
    code, _, err = cli("zoo", "table", "--results", results, "--out", out, "--check")
    assert code == 1 and "out of date" in err


def test_a_broken_result_file_is_named(tmp_path):
    from genzoo.zoo import load_results

    (tmp_path / "dcgan").mkdir()
    (tmp_path / "dcgan" / "digits-10min-cpu.json").write_text("{not json")
    with pytest.raises(GenzooError, match="zoo result .*digits-10min-cpu.json' is not valid JSON"):
        load_results(tmp_path)
    (tmp_path / "dcgan" / "digits-10min-cpu.json").write_text('{"a": 1}')
    with pytest.raises(GenzooError, match="is not a zoo result"):
        load_results(tmp_path)


def test_docs_zoo_md_is_up_to_date_with_the_stored_results():
    from genzoo.zoo import default_results_dir, load_results, matching, render_table

    docs = Path(__file__).resolve().parents[1] / "docs" / "zoo.md"
    want = render_table(matching(None), load_results(default_results_dir()))
    assert docs.read_text() == want, "docs/zoo.md is stale: run `genzoo zoo table`"


def test_record_stores_a_full_budget_result(tmp_path, monkeypatch, cli):
    import genzoo.zoo as zoo

    fake = write_result(tmp_path / "src", "dcgan/digits-10min-cpu", fid=5.0)
    monkeypatch.setattr(zoo, "run_recipe", lambda *a, **k: fake)
    code, out, err = cli("zoo", "run", "dcgan/digits-10min-cpu", "--record", "--results", tmp_path / "results")
    assert code == 0, err
    stored = json.loads((tmp_path / "results" / "dcgan" / "digits-10min-cpu.json").read_text())
    assert stored == fake


# ------------------------------------------------------------------------------------------
# push
# ------------------------------------------------------------------------------------------
def test_zoo_push_publishes_an_evaluated_run(hub, zoo_run, cli):  # noqa: F811
    code, out, err = cli("zoo", "push", zoo_run, "--to", "alice")
    assert code == 0, err
    repo = "alice/dcgan-digits-10min-cpu"
    assert out.strip().endswith(f"{hub.url}/{repo}")
    assert "README.md" in hub.file_list(repo) and "model.safetensors" in hub.file_list(repo)
    readme = hub.read_file(repo, "README.md").decode()
    assert "FID (digits classifier features)" in readme and "genzoo sample --from-hub " + repo in readme
    assert hub.commits(repo)[-1]["message"] == f"genzoo zoo: {ZOO_RECIPE} (shortened budget {ZOO_BUDGET})"
    cfg = json.loads(hub.read_file(repo, "config.json"))
    assert cfg["zoo"]["recipe"] == ZOO_RECIPE


def test_families_without_recipes_list_nothing():
    from genzoo.zoo import recipes

    assert all(e.family in families.names() for e in recipes().values())


def test_a_budget_equal_to_the_recipes_is_a_full_budget():
    from genzoo.recipes import ReferenceRecipe
    from genzoo.zoo import is_recipe_budget

    timed = ReferenceRecipe(name="x", data="digits", purpose="p", max_time="10m")
    assert is_recipe_budget(None, timed) and is_recipe_budget("10m", timed) and is_recipe_budget("600s", timed)
    assert not is_recipe_budget("9m", timed) and not is_recipe_budget("500steps", timed)
    stepped = ReferenceRecipe(name="y", data="digits", purpose="p", steps=500)
    assert is_recipe_budget("500steps", stepped) and not is_recipe_budget("400steps", stepped)
    assert not is_recipe_budget("10m", stepped)
