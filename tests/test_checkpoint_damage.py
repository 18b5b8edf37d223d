"""Damaged checkpoints and weights: a resume validates a checkpoint completely before loading it,
falls back to the newest older one that validates (saying which and why), and never prunes the
last good one; weights with NaN/inf values or a config that does not fit them are refused.

Every case copies the one tiny run of tests/fixtures_ckpt.py (checkpoints at steps 2, 4, 6).
"""

from __future__ import annotations

import json
import resource

import pytest
import torch
from safetensors.torch import load_file

import genzoo
from genzoo.engine import Trainer, find_checkpoint
from genzoo.engine import checkpoint as ck
from genzoo.errors import GenzooError
from genzoo.registry import families
from tests.fixtures_ckpt import CKPT_STEPS, DAMAGES, NAN_VALUES, copy_run, nan_bytes, step_dir



def resume(run, capsys, **kwargs):
    """Resume ``run`` in-process to its saved step count; (result, everything printed)."""
    capsys.readouterr()
    trainer = Trainer(families.get("dcgan"), out=run, resume=True, progress=False, keep_checkpoints=3, **kwargs)
    start = trainer.start_step
    result = trainer.fit()
    out, err = capsys.readouterr()
    return start, result, " ".join((out + err).split())  # rich may wrap a long note: compare without line breaks


def files_and_mtimes(run):
    return {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.name != ".lock"}


@pytest.mark.parametrize("how", sorted(DAMAGES))
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one_and_trains(how, ckpt_source, tmp_path, capsys):
    damage, reason = DAMAGES[how]
    run = copy_run(ckpt_source, tmp_path / "run")
    damage(step_dir(run, 6))
    start, result, out = resume(run, capsys)
    assert start == 4  # nothing of step-6 was loaded
    assert "checkpoint step-00000006 was skipped: " + reason in out, out
    assert "resuming from step-00000004 (step 4), the newest checkpoint that validates" in out, out
    assert "Traceback" not in out
    # it trained on (steps 5 and 6) and its final save replaced the damaged step-6
    assert result.steps == 6
    folder, _, state = ck.restore_point(families.get("dcgan"), run, {}, quiet=True)
    assert folder == step_dir(run, 6) and state[1]["step"] == 6
    assert json.loads((run / "log.jsonl").read_text().splitlines()[-1])["step"] == 6
    weights = load_file(run / "model.safetensors")
    assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())


def test_a_resume_from_the_fallback_equals_an_uninterrupted_run(ckpt_source, tmp_path, capsys):
    """Falling back is a real resume: from step-4 to 6 it ends bit-identical to the run that never broke."""
    run = copy_run(ckpt_source, tmp_path / "run")
    DAMAGES["no_ema"][0](step_dir(run, 6))
    resume(run, capsys)
    mine = load_file(run / "model.safetensors")
    reference = load_file(ckpt_source / "model.safetensors")
    assert mine.keys() == reference.keys()
    assert all(torch.equal(mine[k], reference[k]) for k in mine)


def test_two_damaged_checkpoints_are_both_named_and_the_oldest_good_one_used(ckpt_source, tmp_path, capsys):
    run = copy_run(ckpt_source, tmp_path / "run")
    DAMAGES["no_ema"][0](step_dir(run, 6))
    DAMAGES["string_step"][0](step_dir(run, 4))
    start, result, out = resume(run, capsys)
    assert start == 2 and result.steps == 6
    assert "checkpoint step-00000006 was skipped: its EMA tensor 'ema." in out
    assert "checkpoint step-00000004 was skipped: its state.json has 'step' '4' (text), not a whole number" in out
    assert "resuming from step-00000002 (step 2)" in out


def test_no_checkpoint_that_validates_is_one_error_and_nothing_changes(ckpt_source, tmp_path, capsys):
    run = copy_run(ckpt_source, tmp_path / "run")
    for step in CKPT_STEPS:
        DAMAGES["no_ema"][0](step_dir(run, step))
    before = files_and_mtimes(run)
    with pytest.raises(GenzooError) as e:
        Trainer(families.get("dcgan"), out=run, resume=True, progress=False)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(f"no checkpoint of '{run}' can be resumed (step-00000006: its EMA tensor 'ema.")
    assert all(f"step-{s:08d}: its EMA tensor" in msg for s in CKPT_STEPS)
    assert msg.endswith("start a new run with another --out (the damaged checkpoints are left as they are)")
    assert files_and_mtimes(run) == before  # validated before touching anything


def test_latest_that_is_not_utf8_is_a_note_and_the_highest_checkpoint_resumes(ckpt_source, tmp_path, capsys):
    run = copy_run(ckpt_source, tmp_path / "run")
    (run / "checkpoints" / "latest").write_bytes(b"\xff\xfe step-\x80")
    start, result, out = resume(run, capsys, overrides={"steps": 7})
    assert "latest is not UTF-8 text; trying the highest checkpoint, step-00000006" in out, out
    assert start == 6 and result.steps == 7
    assert (run / "checkpoints" / "latest").read_text() == "step-00000007\n"


def test_latest_not_utf8_and_the_highest_damaged_falls_back_further(ckpt_source, tmp_path, capsys):
    run = copy_run(ckpt_source, tmp_path / "run")
    (run / "checkpoints" / "latest").write_bytes(b"\xff")
    DAMAGES["no_rng"][0](step_dir(run, 6))
    start, _, out = resume(run, capsys)
    assert start == 4 and "checkpoint step-00000006 was skipped: its random generator state 'rng.torch'" in out


def test_an_override_that_cannot_change_is_said_at_once_not_skipped(ckpt_source, tmp_path):
    run = copy_run(ckpt_source, tmp_path / "run")
    with pytest.raises(GenzooError, match="cannot change lr when resuming"):
        Trainer(families.get("dcgan"), out=run, resume=True, progress=False, overrides={"lr": 0.1})


def test_what_the_validator_expects_is_what_the_trainer_writes(ckpt_source):
    """The validator builds its expectations on the meta device; they must be exactly the
    model.* and ema.* tensors of a real checkpoint, and every real checkpoint must pass."""
    fam = families.get("dcgan")
    for step in CKPT_STEPS:
        tensors, scalars = ck.read_checkpoint(step_dir(ckpt_source, step))
        config = fam.config_class.from_dict(scalars["config"])
        want, optimizers = ck.expected_tensors(fam, config)
        assert set(want) == {k for k in tensors if k.startswith(("model.", "ema."))}
        assert {k: tuple(s) for k, (_, s) in want.items()} == {k: tuple(tensors[k].shape) for k in want}
        assert set(optimizers) == set(scalars["optimizers"]) == {"d", "g"}
        ck.check_checkpoint(fam, config, (tensors, scalars))  # no exception


# -- writing and pruning ---------------------------------------------------------------------
def _state_of(run, step):
    return ck.read_checkpoint(step_dir(run, step))


def test_pruning_keeps_the_checkpoint_just_written_even_beside_a_damaged_newer_one(ckpt_source, tmp_path):
    """keep=1, a damaged step-6 left from an earlier leg, writing step 4: the old pruning sorted
    all folders and deleted every one but step-6, the new checkpoint included."""
    run = copy_run(ckpt_source, tmp_path / "run")
    state4 = _state_of(run, 4)
    DAMAGES["no_ema"][0](step_dir(run, 6))
    __import__("shutil").rmtree(step_dir(run, 4))
    ck.write_checkpoint(run, 4, state4, keep=1)
    assert sorted(p.name for p in (run / "checkpoints").glob("step-*")) == ["step-00000004", "step-00000006"]
    assert (run / "checkpoints" / "latest").read_text() == "step-00000004\n"
    assert ck.restore_point(families.get("dcgan"), run, {}, quiet=True)[0] == step_dir(run, 4)


def test_a_damaged_folder_at_the_step_being_written_is_replaced(ckpt_source, tmp_path):
    run = copy_run(ckpt_source, tmp_path / "run")
    good = _state_of(run, 6)
    DAMAGES["no_ema"][0](step_dir(run, 6))
    ck.write_checkpoint(run, 6, good, keep=3)
    tensors, _ = _state_of(run, 6)
    assert tensors.keys() == good[0].keys()
    ck.check_checkpoint(families.get("dcgan"), families.get("dcgan").config_class.from_dict(good[1]["config"]),
                        (tensors, good[1]))


def test_the_same_state_at_an_existing_step_is_not_rewritten(ckpt_source, tmp_path):
    run = copy_run(ckpt_source, tmp_path / "run")
    before = (step_dir(run, 6) / "state.safetensors").stat().st_mtime_ns
    ck.write_checkpoint(run, 6, _state_of(run, 6), keep=3)
    assert (step_dir(run, 6) / "state.safetensors").stat().st_mtime_ns == before


def test_a_state_with_non_finite_values_is_never_written_and_nothing_is_pruned(ckpt_source, tmp_path):
    run = copy_run(ckpt_source, tmp_path / "run")
    tensors, scalars = _state_of(run, 6)
    tensors = {**tensors, "model.generator.net.0.weight": torch.full_like(tensors["model.generator.net.0.weight"],
                                                                          float("nan"))}
    with pytest.raises(GenzooError, match=r"not writing checkpoint step 8: tensor 'model.generator.net.0.weight' "
                                          r"has 4096 non-finite value\(s\).*the last good checkpoint, step-00000006, "
                                          r"is kept"):
        ck.write_checkpoint(run, 8, (tensors, {**scalars, "step": 8}), keep=1)
    assert sorted(p.name for p in (run / "checkpoints").glob("step-*")) == [f"step-{s:08d}" for s in CKPT_STEPS]


# -- weights: non-finite values and configs that do not fit ------------------------------------
def test_weights_with_nan_bytes_are_refused_naming_the_tensor_and_count(ckpt_source, tmp_path):
    run = copy_run(ckpt_source, tmp_path / "run")
    name = nan_bytes(run / "model.safetensors", "generator.net.3.weight")
    with pytest.raises(GenzooError) as e:
        genzoo.load(run)
    msg = str(e.value)
    assert msg.startswith(f"{run / 'model.safetensors'}: tensor '{name}' has {NAN_VALUES} non-finite value(s) "
                          "(NaN or infinite); the file is damaged: ")
    assert f"genzoo train dcgan --resume --out {run} --steps N (more than 6)" in msg


def test_weights_with_nan_bytes_from_the_hub_say_to_ask_the_author(ckpt_source, tmp_path):
    from genzoo.hub import load_from_dir

    run = copy_run(ckpt_source, tmp_path / "run")
    nan_bytes(run / "model.safetensors", "discriminator.net.0.weight", count=3)
    with pytest.raises(GenzooError) as e:
        load_from_dir(run, origin="Hub repo 'bob/nan'")
    assert str(e.value) == ("the model.safetensors of Hub repo 'bob/nan': tensor 'discriminator.net.0.weight' has 3 "
                            "non-finite value(s) (NaN or infinite); the file is damaged: ask the author to re-upload "
                            "it, or load another revision")


def test_the_advice_for_damaged_weights_works(ckpt_source, tmp_path, cli):
    """The message says to train on from the checkpoint; doing so writes good weights again."""
    run = copy_run(ckpt_source, tmp_path / "run")
    nan_bytes(run / "model.safetensors", "generator.net.0.weight")
    code, _, _ = cli("train", "dcgan", "--resume", "--out", str(run), "--steps", "7", "--no-progress")
    assert code == 0
    assert genzoo.load(run).meta["training"]["steps"] == 7


def test_a_config_far_too_wide_for_its_weights_is_refused_before_any_allocation(ckpt_wide_config, monkeypatch):
    """g_width=100000 would be about 1.3 TB of weights: refused from the header and a meta-device build."""
    fam = families.get("dcgan")
    devices = []
    real_build = type(fam).build

    def spy(self, config):
        devices.append(torch.get_default_device().type)
        return real_build(self, config)

    monkeypatch.setattr(type(fam), "build", spy)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(GenzooError) as e:
        genzoo.load(ckpt_wide_config)
    msg = str(e.value)
    assert msg.startswith(f"{ckpt_wide_config / 'model.safetensors'} does not match the config: "
                          "'generator.net.0.weight' has shape (16, 16, 4, 4), the model expects (16, 200000, 4, 4) "
                          "(g_width is 100000 in the config; the weights were made with g_width=8); nothing was built")
    assert devices and set(devices) == {"meta"}  # no real model was ever built
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 200_000  # KiB: no big allocation


def test_a_config_that_differs_in_latent_dim_names_it(ckpt_source, tmp_path):
    run = copy_run(ckpt_source, tmp_path / "run")
    cfg = json.loads((run / "config.json").read_text())
    cfg["config"]["latent_dim"] = 40
    (run / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(GenzooError, match=r"\(latent_dim is 40 in the config; the weights were made with "
                                          r"latent_dim=16\); nothing was built"):
        genzoo.load(run)


def test_a_corrupted_weights_header_is_one_clear_error(ckpt_source, tmp_path):
    run = copy_run(ckpt_source, tmp_path / "run")
    (run / "model.safetensors").write_bytes(b"\xff" * 8 + b"{}")
    with pytest.raises(GenzooError, match="is corrupted or truncated"):
        genzoo.load(run)


def test_intact_weights_still_load_and_sample(ckpt_source):
    model = genzoo.load(ckpt_source)
    images = model.sample(4, seed=0)
    assert images.shape == (4, 1, 16, 16) and torch.isfinite(images).all()
    assert find_checkpoint(ckpt_source) == step_dir(ckpt_source, 6)
