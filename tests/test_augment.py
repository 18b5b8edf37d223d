"""Data augmentation with conditional models: labelled folders, the classification accuracy score
(CAS) and `genzoo augment`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import genzoo
from genzoo.data import load_dataset
from genzoo.errors import GenzooError
from genzoo.labelled import folder_names, write_labelled_folder
from genzoo.metrics.cas import matched_subset
from genzoo.metrics.evaluate import metric_names
from genzoo.registry import metrics


@pytest.fixture
def quick_cas(monkeypatch):
    """CAS with a short classifier schedule (the default trains for minutes)."""
    cas = metrics.get("cas")
    monkeypatch.setattr(cas, "steps", 40)
    monkeypatch.setattr(cas, "batch_size", 32)
    return cas


# ------------------------------------------------------------------------------------------
# labelled folders
# ------------------------------------------------------------------------------------------
def test_folder_names_sort_in_class_order_and_are_safe():
    names = ["T-shirt/top", "Trouser", "Ankle boot", "..", "a\\b:c"]
    got = folder_names(names)
    assert got == ["0_T-shirt_top", "1_Trouser", "2_Ankle boot", "3_class", "4_a_b_c"]
    assert sorted(got) == got
    twelve = folder_names([f"c{i}" for i in range(12)])
    assert twelve[0] == "00_c0" and twelve[11] == "11_c11" and sorted(twelve) == twelve
    assert folder_names(twelve) == twelve  # a model trained on such a folder keeps the names


def test_labelled_folder_round_trips_through_folder_data_and_imagefolder(cli, tiny_cgan_run, tmp_path):
    out = tmp_path / "synth"
    code, stdout, err = cli("sample", tiny_cgan_run, "--label", "all", "-n", "30", "--seed", "3",
                            "--out", f"{out}/", "--as-folder")
    assert code == 0, stdout + err
    assert "3 of each of 10 classes" in stdout + err
    assert sorted(p.name for p in out.iterdir()) == [f"{i}_{i}" for i in range(10)]
    assert all(len(list(d.glob("*.png"))) == 3 for d in out.iterdir())
    assert not list(tmp_path.glob(".synth*"))  # no temporary folder left behind

    model = genzoo.load(tiny_cgan_run)
    labels = torch.arange(10).repeat_interleave(3)
    want = model.sample(30, seed=3, labels=labels)
    want_u8 = want.mul(255).round().to(torch.uint8)

    ds = load_dataset(f"folder:{out}")
    assert ds.class_names == [f"{i}_{i}" for i in range(10)]
    assert torch.equal(ds.labels, labels)
    got_u8 = ((ds.images + 1) / 2).mul(255).round().to(torch.uint8)
    assert torch.equal(got_u8, want_u8)

    from torchvision.datasets import ImageFolder  # here: torchvision only for this check

    tv = ImageFolder(str(out))
    assert tv.classes == ds.class_names
    assert tv.targets == labels.tolist()
    first = np.asarray(tv[0][0].convert("L"))
    assert np.array_equal(first, want_u8[0, 0].numpy())


def test_labelled_folder_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    from PIL import Image

    calls = {"n": 0}
    real_save = Image.Image.save

    def failing_save(self, *a, **k):  # noqa: ANN001
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError(28, "No space left on device")
        return real_save(self, *a, **k)

    monkeypatch.setattr(Image.Image, "save", failing_save)
    with pytest.raises(OSError):
        write_labelled_folder(torch.rand(8, 1, 8, 8), torch.arange(8) % 2, ["a", "b"], tmp_path / "out", progress=False)
    assert list(tmp_path.iterdir()) == []  # neither the folder nor its temporary twin


def test_as_folder_needs_a_conditional_model(cli, tiny_run, tmp_path):
    code, out, err = cli("sample", tiny_run, "-n", "10", "--out", f"{tmp_path}/x/", "--as-folder")
    assert code == 1
    assert "--as-folder needs a class-conditional model" in out + err and "dcgan" in out + err
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------------------------------------------
# CAS
# ------------------------------------------------------------------------------------------
def test_cas_is_asked_for_by_name_not_part_of_all():
    assert "cas" not in metric_names("all")
    assert metric_names("fid,cas") == ["fid", "cas"]


def test_matched_subset_has_the_requested_class_counts():
    labels = torch.arange(100) % 10
    idx = matched_subset(labels, [3] * 5 + [0] * 4 + [20], seed=1)
    counts = torch.bincount(labels[idx], minlength=10).tolist()
    assert counts == [3] * 5 + [0] * 4 + [10]  # class 9 has only 10
    assert torch.equal(idx, matched_subset(labels, [3] * 5 + [0] * 4 + [20], seed=1))


def test_cas_ranks_real_above_good_above_label_shuffled(quick_cas):
    """A stand-in generator that returns real digits (fewer distinct ones, with noise) with their
    true labels scores well below the real-data classifier and far above the same images with
    shuffled labels; and the same seed gives the same score."""
    train = load_dataset("digits", split="train")
    g = torch.Generator().manual_seed(0)
    idx = torch.randperm(len(train), generator=g)[:125].repeat(4)  # 500 images, 125 distinct
    good = ((train.images[idx] + 1) / 2 + 0.25 * torch.randn(500, 1, 16, 16, generator=g)).clamp(0, 1)
    true = train.labels[idx]
    shuffled = true[torch.randperm(500, generator=g)]

    r_good = genzoo.evaluate(good, labels=true, data="digits", metrics="cas", seed=0).get("cas")
    r_shuf = genzoo.evaluate(good, labels=shuffled, data="digits", metrics="cas", seed=0).get("cas")
    assert r_good.baseline == r_shuf.baseline  # same counts, same seed: the same real-data classifier
    assert r_good.baseline > r_good.value + 0.02
    assert r_good.value > r_shuf.value + 0.3 and r_shuf.value < 0.3  # 10 classes: chance is 0.1
    assert r_good.higher_is_better and "500 generated images" in r_good.protocol

    again = genzoo.evaluate(good, labels=true, data="digits", metrics="cas", seed=0).get("cas")
    assert again.value == r_good.value


def test_cas_without_labels_is_skipped_with_a_reason(quick_cas):
    report = genzoo.evaluate(torch.rand(20, 1, 16, 16), data="digits", metrics="cas")
    assert "cas" not in report
    assert any("CAS needs labelled generated images" in n for n in report.notes)


def test_eval_cli_reports_cas_for_a_conditional_run(cli, tiny_cgan_run, quick_cas, tmp_path):
    code, out, err = cli("eval", tiny_cgan_run, "--metrics", "cas", "-n", "40", "--json", tmp_path / "r.json")
    assert code == 0, out + err
    assert "CAS" in out
    res = json.loads((tmp_path / "r.json").read_text())["results"][0]
    assert res["metric"] == "cas" and 0 <= res["value"] <= 1 and 0 <= res["baseline"] <= 1


def test_eval_cas_reads_labels_from_a_labelled_folder(cli, tiny_cgan_run, quick_cas, tmp_path):
    out = tmp_path / "synth"
    assert cli("sample", tiny_cgan_run, "-n", "40", "--out", out, "--as-folder")[0] == 0
    from_folder = genzoo.evaluate(str(out), data="digits", metrics="cas", n=40).get("cas")
    model = genzoo.load(tiny_cgan_run)
    labels = torch.arange(10).repeat_interleave(4)
    images = model.sample(40, seed=0, labels=labels).mul(255).round().div(255)  # as the PNGs hold them
    direct = genzoo.evaluate(images, labels=labels, data="digits", metrics="cas").get("cas")
    assert from_folder.value == direct.value


# ------------------------------------------------------------------------------------------
# genzoo augment
# ------------------------------------------------------------------------------------------
def test_augment_prints_both_arms_over_seeds_and_is_deterministic(cli, tiny_cgan_run, tmp_path):
    args = ["augment", tiny_cgan_run, "--real", "40", "--synthetic", "40", "--seeds", "2", "--steps", "4",
            "--batch-size", "8"]
    code, out, err = cli(*args, "--json", tmp_path / "a.json")
    assert code == 0, out + err
    assert "real 40" in out and "seed 0" in out and "seed 1" in out and "mean ± std" in out
    assert "adding its samples" in out
    rep = json.loads((tmp_path / "a.json").read_text())
    assert [a["real"] for a in rep["arms"]] == [40, 40] and [a["synthetic"] for a in rep["arms"]] == [0, 40]
    assert all(len(a["accuracies"]) == 2 and all(0 <= v <= 1 for v in a["accuracies"]) for a in rep["arms"])
    assert rep["steps"] == 4 and rep["seeds"] == [0, 1] and rep["test_images"] == 297
    assert cli(*args, "--json", tmp_path / "b.json")[0] == 0
    assert json.loads((tmp_path / "b.json").read_text())["arms"] == rep["arms"]


def test_augment_refuses_an_unconditional_model(tiny_run):
    from genzoo.augment import augmentation_study

    with pytest.raises(GenzooError, match="needs a class-conditional model"):
        augmentation_study([genzoo.load(tiny_run)], sources=[str(tiny_run)], real=10, synthetic=10)


@pytest.mark.slow
def test_cas_of_a_trained_cgan_beats_its_label_shuffled_samples(tmp_path, quick_cas, monkeypatch):
    """A cgan trained a minute on digits: its labelled samples teach a classifier the digits."""
    from genzoo.engine import train

    monkeypatch.setattr(quick_cas, "steps", 150)
    run = tmp_path / "cgan"
    train("cgan", out=run, data="digits", progress=False, steps=1500, sample_every=1500, checkpoint_every=1500)
    model = genzoo.load(run)
    labels = torch.arange(1000) % 10
    images = model.sample(1000, seed=0, labels=labels)
    good = genzoo.evaluate(images, labels=labels, data="digits", metrics="cas").get("cas")
    shuffled = genzoo.evaluate(images, labels=labels[torch.randperm(1000)], data="digits", metrics="cas").get("cas")
    assert good.baseline > good.value > 0.5 > 0.3 > shuffled.value
