"""Evaluation: metric formulas against torchmetrics and reference formulas, orderings on real
data, feature extractors, the reference cache, `genzoo eval`, `genzoo.evaluate`, --eval-every."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import TINY_DCGAN, needs_fashion, sets

import genzoo
from genzoo.errors import GenzooError
from genzoo.metrics import stats
from genzoo.metrics.classifier import load_classifier, shipped


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    # reference statistics go to a per-session folder, never the user's cache
    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path_factory.getbasetemp() / "genzoo-cache"))


def digits_split(split: str) -> torch.Tensor:
    from genzoo.data import load_dataset

    return (load_dataset("digits", split=split).images + 1) / 2


# ------------------------------------------------------------------------------------------
# formulas
# ------------------------------------------------------------------------------------------
def _features(n: int, d: int, shift: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=g) / d**0.5
    return (torch.randn(n, d, generator=g) @ a + shift).abs()  # correlated, non-negative like pool features


def test_fid_matches_the_reference_formula_with_scipy_sqrtm():
    from scipy import linalg

    for shift in (0.0, 0.3):
        x, y = _features(400, 24, 0.0, 1).double().numpy(), _features(300, 24, shift, 2).double().numpy()
        mu1, mu2 = x.mean(0), y.mean(0)
        s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
        covmean = linalg.sqrtm(s1 @ s2).real
        expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
        mu_a, sig_a = stats.gaussian_stats(torch.from_numpy(x))
        mu_b, sig_b = stats.gaussian_stats(torch.from_numpy(y))
        got = stats.frechet_distance(mu_a, sig_a, mu_b, sig_b)
        assert got == pytest.approx(expected, rel=1e-6, abs=1e-9)
    same = _features(200, 8, 0.0, 3)
    assert stats.frechet_distance(*stats.gaussian_stats(same), *stats.gaussian_stats(same)) == pytest.approx(0, abs=1e-6)


def test_kid_matches_the_unbiased_mmd_formula():
    x, y = _features(60, 10, 0.0, 4).double(), _features(50, 10, 0.2, 5).double()
    k = lambda a, b: (a @ b.T / 10 + 1) ** 3  # noqa: E731
    m, n = len(x), len(y)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    expected = ((kxx.sum() - kxx.trace()) / (m * (m - 1)) + (kyy.sum() - kyy.trace()) / (n * (n - 1))
                - 2 * kxy.mean()).item()
    assert stats.mmd2_unbiased(x, y) == pytest.approx(expected, rel=1e-5)
    mean, std = stats.kernel_inception_distance(x, y, subsets=5, subset_size=10, seed=0)
    assert (mean, std) == stats.kernel_inception_distance(x, y, subsets=5, subset_size=10, seed=0)  # seeded
    assert std > 0



def test_kid_estimate_gives_no_std_when_a_subset_would_be_a_whole_side():
    x, y = _features(60, 10, 0.0, 4), _features(50, 10, 0.2, 5)
    # more images than the subset size on both sides: the subsets' mean and spread
    assert stats.kid_estimate(x, y, subsets=5, subset_size=10, seed=0)[:2] == \
        stats.kernel_inception_distance(x, y, subsets=5, subset_size=10, seed=0)
    # 50 generated, subsets of 50: every subset holds the same 50, so one estimate and no std
    kid, std, n_real, n_fake = stats.kid_estimate(x, y, subsets=5, subset_size=50, seed=0)
    assert std is None and (n_real, n_fake) == (50, 50)
    assert kid == stats.kid_estimate(x, y, subsets=5, subset_size=50, seed=0)[0]  # the 50 real are seeded
    kid, std, n_real, n_fake = stats.kid_estimate(x[:40], y, subsets=5, subset_size=50, seed=0)
    assert (kid, std, n_real, n_fake) == (stats.mmd2_unbiased(x[:40], y), None, 40, 50)  # all of both
    with pytest.raises(GenzooError, match="at least 2"):
        stats.kid_estimate(x[:1], y)

def test_prdc_matches_a_brute_force_implementation_of_the_definitions():
    real, fake = _features(80, 6, 0.0, 6), _features(70, 6, 0.15, 7)
    r, f = real.double().numpy(), fake.double().numpy()
    d_rr = np.linalg.norm(r[:, None] - r[None], axis=-1)
    d_ff = np.linalg.norm(f[:, None] - f[None], axis=-1)
    d_rf = np.linalg.norm(r[:, None] - f[None], axis=-1)

    def radius(d, k):  # k-th nearest other point
        return np.sort(d, axis=1)[:, k]  # column 0 is the point itself

    r3, r5, f3 = radius(d_rr, 3), radius(d_rr, 5), radius(d_ff, 3)
    expected = {
        "precision": np.mean([any(d_rf[i, j] < r3[i] for i in range(len(r))) for j in range(len(f))]),
        "recall": np.mean([any(d_rf[i, j] < f3[j] for j in range(len(f))) for i in range(len(r))]),
        "density": sum(d_rf[i, j] < r5[i] for i in range(len(r)) for j in range(len(f))) / (5 * len(f)),
        "coverage": np.mean([d_rf[i].min() < r5[i] for i in range(len(r))]),
    }
    got = stats.precision_recall_density_coverage(real, fake, k_pr=3, k_dc=5)
    for key, val in expected.items():
        assert got[key] == pytest.approx(val, abs=1e-9), key


def test_inception_score_bounds():
    k = 10
    confident_diverse = torch.eye(k).repeat(20, 1) * 50  # every class, each image certain
    assert stats.inception_score(confident_diverse, splits=1)[0] == pytest.approx(k, rel=1e-4)
    one_class = torch.zeros(200, k)
    one_class[:, 3] = 50
    assert stats.inception_score(one_class, splits=4)[0] == pytest.approx(1.0, rel=1e-4)


def test_copy_fraction_and_birthday_formula():
    train = torch.rand(300, 16)
    copies = train[:50] + 1e-4
    assert stats.copy_fraction(copies, train)[0] == 1.0
    far = torch.rand(50, 16) + 5
    assert stats.copy_fraction(far, train)[0] == 0.0
    # N = s(s-1) / (-2 ln(1 - p)): p = 0.5 at s = 100 gives 9900 / (2 ln 2)
    assert stats.birthday_support(0.5, 100) == pytest.approx(9900 / (2 * math.log(2)))
    assert math.isinf(stats.birthday_support(0.0, 100))


# ------------------------------------------------------------------------------------------
# against torchmetrics, on the same features (genzoo's digits classifier as the feature network)
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits_extractor():
    from genzoo.metrics import get_extractor

    return get_extractor("digits")


def test_fid_kid_is_agree_with_torchmetrics(digits_extractor):
    fid_mod = pytest.importorskip("torchmetrics.image.fid")
    from torchmetrics.image.inception import InceptionScore
    from torchmetrics.image.kid import KernelInceptionDistance
    real = digits_split("train")[:400]
    fake = digits_split("test")[:200] * 0.7 + 0.3 * torch.rand(200, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    f_real, lg_real = digits_extractor.extract(real)
    f_fake, lg_fake = digits_extractor.extract(fake)

    fid_tm = fid_mod.FrechetInceptionDistance(feature=digits_extractor, normalize=True)
    fid_tm.update(real, real=True)
    fid_tm.update(fake, real=False)
    ours = stats.frechet_distance(*stats.gaussian_stats(f_real), *stats.gaussian_stats(f_fake))
    assert ours == pytest.approx(float(fid_tm.compute()), rel=1e-3)

    # every subset is the whole set, so the random subsets of both implementations agree
    kid_tm = KernelInceptionDistance(feature=digits_extractor, subsets=3, subset_size=200, normalize=True)
    kid_tm.update(real[:200], real=True)
    kid_tm.update(fake, real=False)
    ours_kid = stats.kernel_inception_distance(f_real[:200], f_fake, subsets=3, subset_size=200)[0]
    assert ours_kid == pytest.approx(float(kid_tm.compute()[0]), rel=1e-3)

    class Logits(torch.nn.Module):
        def forward(self, x):
            return digits_extractor.forward_both(x)[1]

    is_tm = InceptionScore(feature=Logits(), splits=1)
    is_tm.update(fake)
    assert stats.inception_score(lg_fake, splits=1)[0] == pytest.approx(float(is_tm.compute()[0]), rel=1e-3)


# ------------------------------------------------------------------------------------------
# real data scores well; noise and a collapsed generator score badly
# ------------------------------------------------------------------------------------------
def _orderings(data: str, real_test: torch.Tensor, n_ref: int) -> dict[str, dict[str, float]]:
    g = torch.Generator().manual_seed(0)
    noise = torch.rand(real_test.shape, generator=g)
    collapsed = real_test[:1].expand_as(real_test).clone()
    out = {}
    for name, imgs in (("real", real_test), ("noise", noise), ("collapsed", collapsed)):
        rep = genzoo.evaluate(imgs, data=data, metrics=["fid", "kid", "prdc"], n_ref=n_ref)
        out[name] = {r.metric: r.value for r in rep.results}
    return out


def _assert_orderings(s: dict[str, dict[str, float]]) -> None:
    real, noise, coll = s["real"], s["noise"], s["collapsed"]
    for bad in (noise, coll):
        assert real["fid"] < 0.05 * bad["fid"]
        assert real["kid"] < 0.05 * bad["kid"]
        assert real["precision"] > bad["precision"] or real["recall"] > bad["recall"]
    assert real["precision"] > 0.7 and real["recall"] > 0.7
    assert real["density"] > 0.7 and real["coverage"] > 0.8
    assert noise["precision"] < 0.05 and noise["coverage"] < 0.05
    assert coll["recall"] < 0.05 and coll["coverage"] < 0.05


def test_digits_real_test_vs_train_scores_well_noise_and_collapse_badly():
    s = _orderings("digits", digits_split("test"), n_ref=297)
    _assert_orderings(s)


@pytest.mark.slow
@needs_fashion
def test_fashion_real_test_vs_train_scores_well_noise_and_collapse_badly():
    from genzoo.data import load_dataset

    test = (load_dataset("fashion-mnist", split="test", limit=2000).images + 1) / 2
    s = _orderings("fashion-mnist", test, n_ref=2000)
    _assert_orderings(s)


def test_memorisation_and_birthday_flag_copies(tmp_path):
    from genzoo.data import load_dataset

    train = (load_dataset("digits", split="train").images + 1) / 2
    copies = train[torch.randperm(len(train), generator=torch.Generator().manual_seed(1))[:400]]
    rep = genzoo.evaluate(copies, data="digits", metrics=["memorisation"], out_dir=tmp_path)
    px = rep.get("memorisation_pixels")
    assert px.value == 1.0 and px.baseline is not None and px.baseline < 0.9
    assert (tmp_path / "memorisation.png").is_file()
    fresh = genzoo.evaluate(digits_split("test"), data="digits", metrics=["memorisation"])
    assert fresh["memorisation_pixels"] < 0.9

    collapsed = digits_split("test")[:1].expand(400, -1, -1, -1).clone()
    b = genzoo.evaluate(collapsed, data="digits", metrics=["birthday"], out_dir=tmp_path)
    assert b["birthday_duplicate_rate"] == 1.0
    assert b["birthday_support"] < b.get("birthday_support").baseline
    real = genzoo.evaluate(digits_split("test"), data="digits", metrics=["birthday"], n_ref=1500)
    assert real["birthday_duplicate_rate"] < 1.0
    assert (tmp_path / "birthday.png").is_file()


# ------------------------------------------------------------------------------------------
# feature extractors
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("data,min_acc", [("digits", 0.9), ("fashion-mnist", 0.85)])
def test_shipped_classifiers_are_small_and_record_their_accuracy(data, min_acc):
    from genzoo.metrics.classifier import file_sha256

    path = shipped(data)
    assert path is not None and path.stat().st_size < 1_000_000
    facts = json.loads(path.with_suffix(".json").read_text())
    assert facts["test_accuracy"] >= min_acc and facts["seed"] == 0
    assert facts["sha256"] == file_sha256(path)
    assert facts["command"].startswith(f"genzoo train classifier --data {data}")
    model, info = load_classifier(path)
    assert info["test_accuracy"] == facts["test_accuracy"]


def test_digits_classifier_accuracy_reproduces_from_the_shipped_weights():
    from genzoo.data import load_dataset
    from genzoo.metrics.classifier import accuracy

    model, info = load_classifier(shipped("digits"))
    test = load_dataset("digits", split="test")
    assert accuracy(model, (test.images + 1) / 2, test.labels) == pytest.approx(info["test_accuracy"], abs=1e-4)


def test_train_classifier_command_is_seeded_and_gives_a_usable_extractor(cli, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        code, out_s, err = cli("train", "classifier", "--data", "digits", "--steps", "4", "--batch-size", "32", "--out", out)
        assert code == 0, out_s + err
    from genzoo.io import load_tensors

    ta, tb = load_tensors(a / "digits.safetensors"), load_tensors(b / "digits.safetensors")
    assert ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)  # same seed, same weights
    facts = json.loads((a / "digits.json").read_text())
    assert facts["test_accuracy"] == json.loads((b / "digits.json").read_text())["test_accuracy"]
    assert 0 <= facts["test_accuracy"] <= 1 and facts["steps"] == 4
    rep = genzoo.evaluate(digits_split("test")[:64], data="digits", metrics=["fid"], extractor=f"classifier:{a / 'digits.safetensors'}")
    assert rep.get("fid").name == "FID (digits classifier features)"
    assert rep.info["extractor"]["weights"] == str(a / "digits.safetensors")


def test_inception_without_weights_fails_clearly_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("GENZOO_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    monkeypatch.delenv("GENZOO_INCEPTION_WEIGHTS", raising=False)
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    from genzoo.metrics.extractors import extractors

    with pytest.raises(GenzooError) as e:
        extractors.get("inception-v3")(None)
    msg = str(e.value)
    assert "inception_v3" in msg and "fashion-mnist" in msg and "GENZOO_INCEPTION_WEIGHTS" in msg
    with pytest.raises(GenzooError, match="timm:resnet18:random"):
        extractors.get("timm")("resnet18")
    pickled = tmp_path / "x.pth"
    pickled.write_bytes(b"0")
    with pytest.raises(GenzooError, match="not a .safetensors file"):
        extractors.get("inception-v3")(str(pickled))


def test_inception_loads_a_local_weights_file_exactly(tmp_path):
    import timm

    from genzoo.io import save_tensors
    from genzoo.metrics.extractors import extractors

    with torch.random.fork_rng():
        torch.manual_seed(123)
        net = timm.create_model("inception_v3.tf_in1k", pretrained=False).eval()
    save_tensors(tmp_path / "inc.safetensors", net.state_dict())
    ex = extractors.get("inception-v3")(str(tmp_path / "inc.safetensors"))
    assert ex.num_features == 2048 and ex.has_logits and ex.label == "Inception-v3 features"
    x = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    feats, logits = ex.extract(x)
    with torch.inference_mode():
        xi = torch.nn.functional.interpolate(x.expand(-1, 3, -1, -1), size=(299, 299), mode="bilinear", align_corners=False)
        expected = net.forward_head(net.forward_features((xi - 0.5) / 0.5), pre_logits=True)
    assert torch.allclose(feats, expected, atol=1e-4)
    assert logits.shape == (2, 1000)


def test_timm_random_extractor_is_explicit_and_deterministic():
    from genzoo.metrics.extractors import extractors

    a, b = extractors.get("timm")("test_resnet:random"), extractors.get("timm")("test_resnet:random")
    assert "random-init" in a.label and not a.has_logits
    x = torch.rand(3, 1, 20, 20, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a.extract(x)[0], b.extract(x)[0])
    rep = genzoo.evaluate(digits_split("test")[:40], data="digits", metrics=["fid", "is"], extractor="timm:test_resnet:random")
    assert rep.get("fid").name == "FID (random-init test_resnet features (seed 0))"
    assert any("IS needs class probabilities" in n for n in rep.notes)
    with pytest.raises(GenzooError, match="timm has no model"):
        extractors.get("timm")("resnet_does_not_exist")


# ------------------------------------------------------------------------------------------
# reference cache and the API
# ------------------------------------------------------------------------------------------
def test_reference_statistics_are_cached_by_data_split_extractor_and_count():
    imgs = digits_split("test")[:100]
    first = genzoo.evaluate(imgs, data="digits", metrics=["fid"])
    again = genzoo.evaluate(imgs, data="digits", metrics=["fid"])
    assert first.info["reference_cached"] is False and again.info["reference_cached"] is True
    assert again["fid"] == first["fid"]
    name = Path(first.info["reference_file"]).name
    assert name.startswith("digits_train_clf-") and "_n100_16px_1ch" in name
    other = genzoo.evaluate(imgs, data="digits", metrics=["fid"], n_ref=200, split="test")
    assert other.info["reference_cached"] is False and "_test_" in Path(other.info["reference_file"]).name


def test_evaluate_api_checks_its_inputs():
    x = digits_split("test")[:10]
    with pytest.raises(GenzooError, match="pass data="):
        genzoo.evaluate(x, metrics=["fid"])
    with pytest.raises(GenzooError, match=r"values in \[0, 1\]"):
        genzoo.evaluate(x * 2 - 1, data="digits")
    with pytest.raises(GenzooError, match="unknown metric 'fdi'"):
        genzoo.evaluate(x, data="digits", metrics=["fdi"])
    with pytest.raises(GenzooError, match="grayscale"):
        genzoo.evaluate(x.expand(-1, 3, -1, -1), data="digits", metrics=["fid"])


def test_evaluate_a_model_is_seeded(tiny_run):
    model = genzoo.load(tiny_run)
    a = genzoo.evaluate(model, metrics="fid,kid", n=64)  # data from the model: digits
    b = genzoo.evaluate(model, metrics="fid,kid", n=64)
    assert a.info["data"] == "digits" and a["fid"] == b["fid"] and a["kid"] == b["kid"]
    entry = a.card_entries()[0]
    assert entry.keys() == {"metric", "value", "name", "protocol", "dataset", "split"}
    assert (entry["dataset"], entry["split"]) == ("digits", "train")


# ------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------
def test_eval_cli_prints_every_metric_and_writes_json(cli, tiny_run, tmp_path):
    out = tmp_path / "scores.json"
    code, stdout, err = cli("eval", tiny_run, "-n", "200", "--json", out, "--out", tmp_path / "grids")
    assert code == 0, stdout + err
    for title in ("FID", "KID", "IS", "Precision", "Recall", "Density", "Coverage", "Memorised", "Birthday"):
        assert title in stdout
    assert "digits classifier" in stdout
    rep = json.loads(out.read_text())
    metrics = {r["metric"] for r in rep["results"]}
    assert {"fid", "kid", "is", "precision", "recall", "density", "coverage", "memorisation_pixels",
            "birthday_duplicate_rate", "birthday_support"} <= metrics
    assert rep["num_images"] == 200 and rep["data"] == "digits"
    assert (tmp_path / "grids" / "memorisation.png").is_file()


def test_eval_cli_on_an_image_folder_and_errors(cli, tmp_path):
    from genzoo.images import save_individual

    save_individual(digits_split("test")[:30], tmp_path / "imgs")
    code, stdout, err = cli("eval", tmp_path / "imgs", "--data", "digits", "--metrics", "fid,prdc")
    assert code == 0, stdout + err
    assert "30 generated" in stdout and "Precision (digits classifier features)" in stdout
    code, stdout, err = cli("eval", tmp_path / "imgs", "--metrics", "fid")
    assert code == 1 and "--data" in stdout + err
    code, stdout, err = cli("eval", tmp_path / "imgs", "--data", "digits", "--to-card")
    assert code == 1 and "run directory" in stdout + err


def test_eval_to_card_puts_results_in_the_model_card(cli, tiny_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    code, stdout, err = cli("eval", run, "-n", "64", "--metrics", "fid", "--to-card")
    assert code == 0, stdout + err
    card = (run / "README.md").read_text()
    assert "model-index" in card and "FID (digits classifier features)" in card
    assert json.loads((run / "config.json").read_text())["evaluation"][0]["metric"] == "fid"


# ------------------------------------------------------------------------------------------
# evaluation during training
# ------------------------------------------------------------------------------------------
def test_eval_every_logs_metrics_keeps_the_best_and_does_not_change_training(cli, tmp_path):
    base = [*sets({**TINY_DCGAN, "steps": 6}), "--data", "digits"]
    code, o, e = cli("train", "dcgan", *base, "--out", tmp_path / "plain")
    assert code == 0, o + e
    code, o, e = cli("train", "dcgan", *base, "--out", tmp_path / "ev", "--eval-every", "2",
                     "--eval-metrics", "fid,precision", "--eval-n", "64")
    assert code == 1 and "unknown metric 'precision'" in o + e  # precision comes from prdc
    code, o, e = cli("train", "dcgan", *base, "--out", tmp_path / "ev2", "--eval-every", "2",
                     "--eval-metrics", "fid,prdc", "--eval-n", "64")
    assert code == 0, o + e
    lines = [json.loads(s) for s in (tmp_path / "ev2" / "log.jsonl").read_text().splitlines()]
    evals = [r for r in lines if "eval" in r]
    assert [r["step"] for r in evals] == [2, 4, 6]
    assert {"fid", "precision", "recall"} <= set(evals[0]["eval"])
    plain = [r for r in (json.loads(s) for s in (tmp_path / "plain" / "log.jsonl").read_text().splitlines())]
    train_lines = [r for r in lines if "eval" not in r]
    assert [r["loss_d"] for r in train_lines] == [r["loss_d"] for r in plain]  # same training with or without eval
    cfg = json.loads((tmp_path / "ev2" / "config.json").read_text())
    fid = next(e for e in cfg["evaluation"] if e["metric"] == "fid")
    assert fid["value"] == pytest.approx(min(r["eval"]["fid"] for r in evals), rel=1e-6)
    assert "best during training" in fid["name"] and fid["step"] in (2, 4, 6)
    assert "FID (digits classifier features), best during training" in (tmp_path / "ev2" / "README.md").read_text()
