"""The training engine: run directory contents, determinism, resume, time budget, divergence, SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from genzoo.engine import Trainer, find_checkpoint, parse_duration, train
from genzoo.errors import GenzooError
from genzoo.registry import families
from tests.conftest import TINY_DCGAN, sets


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "model.safetensors"))


def ckpt(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(find_checkpoint(run) / "state.safetensors"))


def assert_same(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_run_directory_has_hub_layout_and_records_what_made_it(tiny_run):
    names = {p.name for p in tiny_run.iterdir()}
    assert {"config.json", "model.safetensors", "README.md", "samples.png", "log.jsonl", "checkpoints", "samples"} <= names
    cfg = json.loads((tiny_run / "config.json").read_text())
    assert cfg["family"] == "dcgan"
    assert cfg["plugin"] == {"distribution": "genzoo-dcgan", "version": "0.1.0"}
    assert cfg["genzoo_version"] == "0.1.0"
    assert cfg["config"]["g_width"] == 8 and cfg["config"]["image_size"] == 16 and cfg["config"]["channels"] == 1
    assert cfg["data"]["name"] == "digits" and cfg["data"]["num_classes"] == 10
    assert cfg["image"]["value_range_in_model"] == [-1, 1]
    env = cfg["training"]["environment"]
    assert env["torch"] == torch.__version__ and "python" in env
    assert cfg["training"]["steps"] == 6
    # log: one line per log interval, with losses and telltales
    lines = [json.loads(x) for x in (tiny_run / "log.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [2, 4, 6]
    assert {"loss_d", "loss_g", "d_acc_real", "d_acc_fake", "fake_std", "images_per_s"} <= set(lines[0])
    assert all(0 <= x["d_acc_real"] <= 1 for x in lines)
    # samples.png is a real image grid (4x4 of 16 px, upscaled)
    with Image.open(tiny_run / "samples.png") as im:
        assert im.size[0] >= 256 and im.mode == "L"
    card = (tiny_run / "README.md").read_text()
    assert card.startswith("---\n") and "library_name: genzoo" in card and "dcgan" in card
    assert (tiny_run / "checkpoints" / "latest").read_text().strip() == "step-00000006"
    # no stray temporary files
    assert not list(tiny_run.rglob("*.tmp"))


def test_same_seed_same_weights_and_other_seed_differs(tmp_path):
    a = train("dcgan", out=tmp_path / "a", progress=False, **TINY_DCGAN)
    b = train("dcgan", out=tmp_path / "b", progress=False, **TINY_DCGAN)
    assert_same(weights(a.run_dir), weights(b.run_dir))
    c = train("dcgan", out=tmp_path / "c", progress=False, **{**TINY_DCGAN, "seed": 1})
    assert not torch.equal(weights(a.run_dir)["generator.net.0.weight"], weights(c.run_dir)["generator.net.0.weight"])


def test_resume_continues_exactly_where_it_stopped(tmp_path):
    """3 steps + resume to 6 gives the same weights, EMA and optimizer state as 6 straight steps."""
    straight = train("dcgan", out=tmp_path / "s", progress=False, **TINY_DCGAN)
    half = {**TINY_DCGAN, "steps": 3}
    train("dcgan", out=tmp_path / "r", progress=False, **half)
    assert json.loads((tmp_path / "r" / "config.json").read_text())["training"]["steps"] == 3
    fam = families.get("dcgan")
    res = Trainer(fam, overrides={"steps": 6}, out=tmp_path / "r", resume=True, progress=False).fit()
    assert res.steps == 6
    assert_same(weights(straight.run_dir), weights(tmp_path / "r"))
    a, b = ckpt(straight.run_dir), ckpt(tmp_path / "r")
    assert_same(a, b)  # model, EMA, optimizers, RNG and data order all agree
    log = [json.loads(x)["step"] for x in (tmp_path / "r" / "log.jsonl").read_text().splitlines()]
    assert log == [2, 3, 4, 6]  # 3 was the end of the first leg


def test_resume_refusals(tmp_path):
    fam = families.get("dcgan")
    with pytest.raises(GenzooError, match="no checkpoint to resume"):
        Trainer(fam, out=tmp_path / "none", resume=True)
    train("dcgan", out=tmp_path / "r", progress=False, **TINY_DCGAN)
    with pytest.raises(GenzooError, match="already holds a run; pass --resume"):
        Trainer(fam, overrides=TINY_DCGAN, out=tmp_path / "r")
    with pytest.raises(GenzooError, match="cannot change g_width when resuming"):
        Trainer(fam, overrides={"g_width": 16, "steps": 9}, out=tmp_path / "r", resume=True)
    with pytest.raises(GenzooError, match="already at step 6 of 6"):
        Trainer(fam, out=tmp_path / "r", resume=True, progress=False).fit()


def test_max_time_stops_cleanly_with_files_written(tmp_path):
    res = train("dcgan", out=tmp_path / "t", progress=False, max_time=0.5, **{**TINY_DCGAN, "steps": 100000})
    assert res.stopped_early and 0 < res.steps < 100000
    assert (tmp_path / "t" / "samples.png").is_file()
    assert find_checkpoint(tmp_path / "t").name == f"step-{res.steps:08d}"
    import genzoo

    assert genzoo.load(str(tmp_path / "t")).sample(2, seed=0).shape == (2, 1, 16, 16)


@pytest.mark.parametrize("text,seconds", [("90s", 90), ("10m", 600), ("1h30m", 5400), ("45", 45), ("1.5m", 90)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["ten minutes", "10x", "-5s", "0"])
def test_parse_duration_errors(text):
    with pytest.raises(GenzooError):
        parse_duration(text)


def test_batch_larger_than_data_is_a_clear_error(tmp_path):
    from PIL import Image as I

    for i in range(3):
        I.new("L", (16, 16), i * 40).save(tmp_path / f"{i}.png")
    with pytest.raises(GenzooError, match="batch size 16 is larger than the dataset \\(3 images\\)"):
        train("dcgan", out=tmp_path / "run", progress=False, **{**TINY_DCGAN, "data": f"folder:{tmp_path}"})


def test_divergence_stops_naming_the_step_and_keeps_the_good_checkpoint(tmp_path):
    from genzoo_dcgan import DCGANFamily

    class NanGAN(DCGANFamily):
        """DCGAN whose discriminator loss becomes NaN from step 4 on."""

        name = "nan-gan-test"

        def recipe(self, model, config):
            r = super().recipe(model, config)
            inner = r.phases[0].loss

            def loss(ctx):
                value, logs = inner(ctx)
                return (value * float("nan") if ctx.step >= 4 else value), logs

            r.phases[0].loss = loss
            return r

    fam = NanGAN()
    run = tmp_path / "nan"
    t = Trainer(fam, overrides=TINY_DCGAN, out=run, progress=False)
    with pytest.raises(GenzooError) as e:
        t.fit()
    msg = str(e.value)
    assert "a loss became NaN or infinite at step 5" in msg  # steps count from 1
    assert "last good checkpoint (step-00000003)" in msg
    assert find_checkpoint(run).name == "step-00000003"
    good = ckpt(run)
    assert all(torch.isfinite(v).all() for k, v in good.items() if v.is_floating_point())
    assert all(torch.isfinite(v).all() for v in weights(run).values() if v.is_floating_point())


def test_sigkill_then_resume_continues_with_no_corrupt_files(tmp_path):
    """Kill -9 a real `genzoo train` mid-run; --resume picks up at the last checkpoint."""
    run = tmp_path / "killed"
    args = [sys.executable, "-m", "genzoo", "train", "dcgan", "--out", str(run), "--no-progress",
            *sets({**TINY_DCGAN, "steps": 100000, "checkpoint_every": 20, "sample_every": 1000, "log_every": 10})]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            ck = find_checkpoint(run)
            if ck is not None and ck.name >= "step-00000040":
                break
            if proc.poll() is not None:
                pytest.fail(proc.stderr.read().decode())
            time.sleep(0.05)
        else:
            pytest.fail("no checkpoint appeared")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    last = find_checkpoint(run)
    step = int(last.name.split("-")[1])
    assert step >= 40 and step % 20 == 0
    # every file a loader would read is whole
    import genzoo

    assert genzoo.load(str(run)).sample(2, seed=0).shape == (2, 1, 16, 16)
    state = json.loads((last / "state.json").read_text())
    assert state["step"] == step
    res = Trainer(families.get("dcgan"), overrides={"steps": step + 10}, out=run, resume=True, progress=False).fit()
    assert res.steps == step + 10
    log = [json.loads(x)["step"] for x in (run / "log.jsonl").read_text().splitlines()]
    assert log[-1] == step + 10 and step + 10 in log


def test_ema_fast_update_matches_state_dict_path_and_follows_replaced_buffers():
    """The cached-slot EMA gives the same shadow as averaging state_dict() entries, also after
    .to(channels_last) replaced the buffers it points at."""
    from genzoo.engine import EMA

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Conv2d(4, 2, 3))
    fast, slow = EMA(net, 0.9), EMA(net, 0.9)
    slow._slots = False  # force the state_dict path
    for i in range(6):
        if i == 3:
            net.to(memory_format=torch.channels_last)
        net(torch.randn(2, 1, 8, 8))  # BatchNorm running statistics and its counter move
        with torch.no_grad():
            for p in net.parameters():
                p.add_(torch.randn_like(p))
        fast.update()
        slow.update()
    assert fast._slots not in (None, False)
    for k in slow.shadow:
        assert torch.equal(fast.shadow[k], slow.shadow[k]), k
    assert fast.shadow["1.num_batches_tracked"].item() == 6
    assert not torch.equal(fast.shadow["0.weight"], net[0].weight)  # an average, not a copy


# ------------------------------------------------------------------------------------------
# steps=None, epochs, latest-run lookup: the same policy for the API and the CLI
# ------------------------------------------------------------------------------------------
NO_STEPS = {k: v for k, v in TINY_DCGAN.items() if k != "steps"}


def test_max_time_alone_trains_until_the_budget_and_records_the_steps(tmp_path):
    res = train("dcgan", out=tmp_path / "b", progress=False, max_time="0.5s", **NO_STEPS)
    assert res.stopped_early and res.steps > 0
    cfg = json.loads((tmp_path / "b" / "config.json").read_text())
    assert cfg["config"]["steps"] == res.steps == cfg["training"]["steps"]


def test_a_budget_run_cut_short_loads_and_resumes_under_a_new_budget(tmp_path):
    """steps=None is saved as null in mid-run checkpoints and config.json; both load back."""
    fam, run = families.get("dcgan"), tmp_path / "cut"

    class Cut(Exception):
        pass

    def cut(step: int) -> None:
        if step == 5:
            raise Cut

    t = Trainer(fam, overrides={**TINY_DCGAN, "steps": None}, out=run, progress=False)
    t.step_callbacks.append(cut)
    with pytest.raises(Cut):
        t.fit()
    state = json.loads((find_checkpoint(run) / "state.json").read_text())
    assert state["step"] == 3 and state["config"]["steps"] is None
    import genzoo

    assert genzoo.load(str(run)).sample(2, seed=0).shape == (2, 1, 16, 16)
    res = Trainer(fam, out=run, resume=True, max_time=0.5, progress=False).fit()
    assert res.stopped_early and res.steps > 3
    assert json.loads((run / "config.json").read_text())["config"]["steps"] == res.steps


def test_api_takes_epochs_and_resumes_the_latest_run_as_the_cli_does(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(GenzooError, match="no earlier dcgan run on digits under runs/"):
        train("dcgan", resume=True, progress=False)
    first = train("dcgan", epochs=0.05, progress=False, **NO_STEPS)  # ceil(0.05 * 1500 / 16) = 5
    assert first.steps == 5 and first.run_dir == Path("runs/dcgan-digits")
    res = train("dcgan", steps=8, resume=True, progress=False)  # out=None: the latest run
    assert res.run_dir == first.run_dir and res.steps == 8
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["dcgan-digits"]
    with pytest.raises(GenzooError, match="give --steps or --epochs, not both"):
        train("dcgan", steps=3, epochs=1.0, progress=False)
    with pytest.raises(GenzooError, match="--epochs must be positive"):
        train("dcgan", epochs=0, progress=False)


# ------------------------------------------------------------------------------------------
# hooks see a TrainingContext, never the trainer
# ------------------------------------------------------------------------------------------
def _doc_hooks() -> dict:
    """The hook example of docs/engine.md, run as written."""
    text = (Path(__file__).parent.parent / "docs" / "engine.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]
    (code,) = [b for b in blocks if "TrainingContext" in b]
    scope: dict = {}
    exec(compile(code, "docs/engine.md", "exec"), scope)
    return scope


def test_recipe_hooks_and_callbacks_get_a_training_context(tmp_path):
    from genzoo_dcgan import DCGANFamily

    from genzoo.data import load_dataset
    from genzoo.plugin import TrainingContext

    doc, seen = _doc_hooks(), {}

    class Hooked(DCGANFamily):
        name = "hooked-gan-test"

        def recipe(self, model, config):
            r = super().recipe(model, config)

            def after_training(ctx):
                assert isinstance(ctx, TrainingContext) and ctx.is_main and ctx.model is not None
                seen.update(run_dir=ctx.run_dir, step=ctx.step, held=len(ctx.held_out("test")))

            r.after_epoch.append(doc["mean_brightness"])
            r.after_training += [after_training, doc["note_the_end"]]
            return r

    def callback(ctx, logs):
        seen.setdefault("logged_at", []).append((ctx.step, sorted(logs)))

    data = load_dataset("digits", image_size=16, limit=64)  # 4 steps per epoch at batch 16
    run = tmp_path / "hooked"
    Trainer(Hooked(), overrides=TINY_DCGAN, data=data, out=run, progress=False, callbacks=[callback]).fit()
    lines = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    epoch = [x for x in lines if "mean_brightness" in x]
    assert [(x["step"], x["epoch"]) for x in epoch] == [(4, 1)] and 0 <= epoch[0]["mean_brightness"] <= 1
    assert lines[-1]["step"] == 6 and lines[-1]["finished_after_s"] >= 0
    assert seen["run_dir"] == run and seen["step"] == 6 and seen["held"] > 0
    assert [s for s, _ in seen["logged_at"]] == [2, 4, 6] and "loss_d" in seen["logged_at"][0][1]
