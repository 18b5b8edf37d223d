"""CycleGAN: networks, the history buffer, unpaired data, losses, training, translate and class shares."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.errors import GenzooError
from tests.conftest import sets

cg = pytest.importorskip("genzoo_cyclegan")

from genzoo_cyclegan.data import DOMAIN, load_unpaired, make_unpaired  # noqa: E402

# tiny networks: two steps train in about a second
TINY = {"g_width": 4, "g_blocks": 1, "d_width": 4, "pool_size": 4, "batch_size": 8, "steps": 2, "log_every": 1,
        "checkpoint_every": 2, "sample_every": 2, "num_samples": 12, "decay_after": 0}


def model(**over):
    from genzoo.hub import create

    return create("cyclegan", **{"image_size": 16, "g_width": 4, "g_blocks": 1, "d_width": 4, **over})


def write_pngs(folder: Path, n: int, size: int, mode: str = "L", value: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(value)
    for i in range(n):
        shape = (size, size) if mode == "L" else (size, size, 3)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(folder / f"{i}.png")


# ------------------------------------------------------------------------------------------
# networks
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size,channels", [(16, 1), (28, 1), (32, 3), (64, 3)])
def test_shapes_both_directions_and_value_range(size, channels):
    m = model(image_size=size, channels=channels)
    x = torch.rand(3, channels, size, size)
    for direction in ("AtoB", "BtoA"):
        y = m.translate(x, direction=direction)
        assert y.shape == x.shape and 0 <= y.min() and y.max() <= 1
        y2, back = m.cycle(x, direction=direction)
        assert torch.equal(y, y2) and back.shape == x.shape
    assert not torch.equal(m.translate(x, direction="AtoB"), m.translate(x, direction="BtoA"))  # two generators
    assert torch.equal(m.translate(x), m.translate(x, direction="AtoB"))  # AtoB is the default, deterministic


@pytest.mark.parametrize("size,layers,rf,patches", [(16, 1, 16, 6), (28, 2, 34, 5), (64, 3, 70, 6)])
def test_patchgan_depth_scales_with_size(size, layers, rf, patches):
    m = model(image_size=size)
    assert m.d_a.n_layers == layers and m.d_a.receptive_field == rf
    assert m.d_b(torch.zeros(2, 1, size, size)).shape == (2, 1, patches, patches)


def test_translate_checks_inputs_and_sample_refuses():
    m = model()
    with pytest.raises(GenzooError, match="AtoB or BtoA"):
        m.translate(torch.rand(1, 1, 16, 16), direction="sideways")
    with pytest.raises(GenzooError, match="1 channels"):
        m.translate(torch.rand(1, 3, 16, 16))
    with pytest.raises(GenzooError, match="16x16"):
        m.translate(torch.rand(1, 1, 32, 32))
    with pytest.raises(GenzooError, match="translates images between two domains"):
        m.sample(4)
    with pytest.raises(GenzooError, match="multiple of 4"):
        model(image_size=18)


def test_capabilities_and_family_metadata():
    from genzoo.capabilities import Samples, TranslatesImages, capabilities_of, families_with, has_capability
    from genzoo.registry import families

    m = model()
    assert has_capability(m, TranslatesImages) and not has_capability(m, Samples)
    assert m.directions == ("AtoB", "BtoA") and m.in_channels == 1
    assert "cyclegan" in families_with(TranslatesImages) and "cyclegan" not in families_with(Samples)
    assert [c.__name__ for c in capabilities_of(m)] == ["TranslatesImages"]
    fam = families.get("cyclegan")
    cfg = fam.default_config()
    # the paper's defaults
    assert (cfg.loss, cfg.cycle_weight, cfg.identity_weight, cfg.pool_size, cfg.decay_after) == ("least-squares", 10.0, 0.5, 50, 0.5)
    assert fam.pipeline_tag == "image-to-image" and families.origin("cyclegan") == "genzoo-cyclegan"


# ------------------------------------------------------------------------------------------
# the history buffer
# ------------------------------------------------------------------------------------------
def test_history_buffer_fills_then_mixes_new_and_stored_images_deterministically():
    from genzoo_cyclegan import HistoryBuffer

    def run(seed):
        pool = HistoryBuffer(4, 1, 2)
        g = torch.Generator().manual_seed(seed)
        first = pool.query(torch.full((4, 1, 2, 2), 1.0), generator=g)  # filling: returned as given
        assert torch.equal(first, torch.full((4, 1, 2, 2), 1.0)) and int(pool.count) == 4
        out = pool.query(torch.full((64, 1, 2, 2), 2.0), generator=g)
        return out, pool

    out, pool = run(0)
    old = (out == 1.0).all(dim=(1, 2, 3)).sum()
    new = (out == 2.0).all(dim=(1, 2, 3)).sum()
    assert old + new == 64 and 1 <= old <= 4 and new >= 32  # a mix; each stored image handed on at most once
    assert ((pool.images == 1.0) | (pool.images == 2.0)).all()
    out2, pool2 = run(0)
    assert torch.equal(out, out2) and torch.equal(pool.images, pool2.images)  # same seed, same mix
    assert not torch.equal(run(1)[0], out)
    off = HistoryBuffer(0, 1, 2)
    x = torch.rand(3, 1, 2, 2)
    assert torch.equal(off.query(x), x)


def test_history_buffer_is_model_state():
    m = model(pool_size=5)
    sd = m.state_dict()
    assert sd["pool_a.images"].shape == (5, 1, 16, 16) and "pool_b.count" in sd
    m.pool_b.query(torch.rand(3, 1, 16, 16))
    m2 = model(pool_size=5)
    m2.load_state_dict(m.state_dict())
    assert int(m2.pool_b.count) == 3 and torch.equal(m2.pool_b.images, m.pool_b.images)


# ------------------------------------------------------------------------------------------
# unpaired data
# ------------------------------------------------------------------------------------------
def test_unpaired_loader_two_folders_of_different_counts_sizes_and_modes(tmp_path):
    write_pngs(tmp_path / "a", 3, 20, "L", value=1)
    write_pngs(tmp_path / "b", 7, 24, "RGB", value=2)
    raw = load_unpaired(f"{tmp_path / 'a'},{tmp_path / 'b'}", split="train")
    assert raw.images.shape == (10, 3, 20, 20) and raw.native_size == 20  # the smaller side; gray widened to RGB
    assert raw.extra[DOMAIN].tolist() == [0] * 3 + [1] * 7 and raw.class_names == ["a", "b"]
    assert any("3 images in A" in n for n in raw.notes)

    from genzoo.data import load_dataset

    ds, names = make_unpaired(load_dataset(f"unpaired:{tmp_path / 'a'},{tmp_path / 'b'}"), seed=0)
    dom = ds.extra[DOMAIN]
    assert names == ["a", "b"] and int((dom == 0).sum()) == int((dom == 1).sum()) == 7  # A repeated to B's count
    assert ds.image_size == 20 and ds.labels is None and ds.class_names == ["a", "b"]
    again, _ = make_unpaired(load_dataset(f"unpaired:{tmp_path / 'a'},{tmp_path / 'b'}"), seed=0)
    assert torch.equal(again.images, ds.images)  # seeded


def test_unpaired_loader_reads_cyclegans_train_test_layout(tmp_path):
    for sub, n in (("trainA", 2), ("trainB", 3), ("testA", 1), ("testB", 1)):
        write_pngs(tmp_path / "set" / sub, n, 16)
    assert len(load_unpaired(str(tmp_path / "set"), split="train").images) == 5
    assert len(load_unpaired(str(tmp_path / "set"), split="test").images) == 2


@pytest.mark.parametrize("arg,message", [
    (None, "needs two folders"),
    ("{a}", "no trainA/ and trainB/"),
    ("{a},{a},{a}", "exactly two folders"),
    ("{a},{missing}", "does not exist"),
    ("{a},{a}", "two different folders"),
])
def test_unpaired_bad_specs_fail_clearly(tmp_path, arg, message):
    write_pngs(tmp_path / "a", 2, 16)
    spec = None if arg is None else arg.format(a=tmp_path / "a", missing=tmp_path / "nope")
    with pytest.raises(GenzooError, match=message):
        load_unpaired(spec, split="train")


def test_classes_task_on_digits_and_invert():
    from genzoo.data import load_dataset

    digits = load_dataset("digits")
    ds, names = make_unpaired(digits, task="classes:3,8")
    dom = ds.extra[DOMAIN]
    n3, n8 = int((digits.labels == 3).sum()), int((digits.labels == 8).sum())
    assert names == ["3", "8"] and len(ds) == 2 * max(n3, n8) and int((dom == 0).sum()) == int((dom == 1).sum())
    assert torch.equal(ds.images[dom == 0][:n3], digits.images[digits.labels == 3][: n3])  # unchanged images of class 3
    assert make_unpaired(digits, task="classes:3, 8")[1] == ["3", "8"]  # spaces allowed
    inv, names = make_unpaired(digits, task="invert", seed=0)
    d = inv.extra[DOMAIN]
    assert names == ["original", "inverted"] and len(inv) == 2 * (len(digits) // 2)
    # B is the other half, negated (in [0, 1]: 1 - x): dark digits on white
    a_imgs, b_imgs = inv.images[d == 0], inv.images[d == 1]
    assert a_imgs.mean() < -0.2 and b_imgs.mean() > 0.2
    assert {round(v, 4) for v in (-b_imgs).mean(dim=(1, 2, 3)).tolist()} <= {round(v, 4) for v in digits.images.mean(dim=(1, 2, 3)).tolist()}


@pytest.mark.parametrize("task,message", [
    ("classes:3", "two classes"), ("classes:3,3", "two different"), ("classes:3,12", "out of range"),
    ("classes:3,cat", "unknown class 'cat'"), ("swap", "unknown cyclegan task"), ("invert:2", "no argument"),
])
def test_bad_tasks_fail_clearly(task, message):
    from genzoo.data import load_dataset

    with pytest.raises(GenzooError, match=message):
        make_unpaired(load_dataset("digits"), task=task)


def test_plain_data_without_task_is_refused(cli, tmp_path):
    code, _, err = cli("train", "cyclegan", "--data", "digits", "--out", tmp_path / "x", *sets(TINY))
    assert code == 1 and "two unpaired domains" in err and "--task classes:A,B" in err


# ------------------------------------------------------------------------------------------
# the recipe
# ------------------------------------------------------------------------------------------
def test_losses_come_from_the_registry(monkeypatch):
    """The recipe asks the loss registry for config.loss and uses its d and g parts."""
    from genzoo.family import Batch, StepContext
    from genzoo.losses import AdversarialLoss
    from genzoo.registry import families, losses

    calls = []
    spy = AdversarialLoss("spy", d=lambda r, f: calls.append("d") or (r.mean() - f.mean()) * 0,
                          g=lambda f: calls.append("g") or f.mean() * 0)
    real_get = losses.get
    monkeypatch.setattr(losses, "get", lambda name: spy if name == "spy" else real_get(name))
    fam = families.get("cyclegan")
    cfg = fam.default_config(image_size=16, channels=1, g_width=4, g_blocks=1, d_width=4, loss="spy", steps=10)
    m = fam.build(cfg)
    recipe = fam.recipe(m, cfg)
    assert [p.name for p in recipe.phases] == ["g", "d"]
    assert list(recipe.phases[0].modules) == ["g_ab", "g_ba"] and list(recipe.phases[1].modules) == ["d_a", "d_b"]
    x = torch.rand(6, 1, 16, 16) * 2 - 1
    ctx = StepContext(m, Batch(x, None, {DOMAIN: torch.tensor([0, 1, 0, 1, 1, 0])}), 0, cfg, torch.device("cpu"))
    g_total, g_logs = recipe.phases[0].loss(ctx)
    d_total, d_logs = recipe.phases[1].loss(ctx)
    assert calls == ["g", "g", "d", "d"]  # one per direction
    # with the adversarial part zeroed, G's loss is exactly lambda * cycle + 0.5 lambda * identity
    expect = 10 * (g_logs["cycle_a"] + g_logs["cycle_b"]) + 5 * (g_logs["identity_a"] + g_logs["identity_b"])
    assert torch.allclose(g_total, expect) and float(d_total.detach()) == 0
    with pytest.raises(GenzooError, match="not an adversarial loss|unknown"):
        fam.recipe(m, fam.default_config(image_size=16, channels=1, loss="nope"))


def test_a_batch_with_one_domain_only_still_trains():
    from genzoo.family import Batch, StepContext
    from genzoo.registry import families

    fam = families.get("cyclegan")
    cfg = fam.default_config(image_size=16, channels=1, g_width=4, g_blocks=1, d_width=4, steps=10)
    m = fam.build(cfg)
    recipe = fam.recipe(m, cfg)
    ctx = StepContext(m, Batch(torch.zeros(3, 1, 16, 16), None, {DOMAIN: torch.zeros(3, dtype=torch.long)}), 0, cfg,
                      torch.device("cpu"))
    g, logs = recipe.phases[0].loss(ctx)
    d, dlogs = recipe.phases[1].loss(ctx)
    g.backward()
    d.backward()  # D_B had fakes but no real B, D_A no fakes: both skipped, nothing raised
    assert "cycle_a" in logs and "cycle_b" not in logs and dlogs == {}


def test_linear_decay_scales_each_update_like_the_learning_rate():
    from genzoo_cyclegan import LinearDecay

    d = LinearDecay(steps=10, decay_after=0.5)
    assert [round(d.factor(s), 2) for s in range(10)] == [1, 1, 1, 1, 1, 1, 0.8, 0.6, 0.4, 0.2]
    assert LinearDecay(None, 0.5).factor(5) == 1 and LinearDecay(10, 1.0).factor(9) == 1

    def adam_run(lr, decay):
        torch.manual_seed(0)
        net = torch.nn.Linear(3, 1)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        x = torch.randn(8, 3)
        for step in range(8, 10):
            if decay:
                decay.before([net], step)
            opt.zero_grad()
            net(x).pow(2).mean().backward()
            opt.step()
            if decay:
                decay.after(net)
        return net.weight.detach()

    # two steps at 0.4 and 0.2 of lr == two Adam steps with lr scaled, moments untouched
    scaled = LinearDecay(steps=10, decay_after=0.5)
    got = adam_run(1e-2, scaled)
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 1)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    x = torch.randn(8, 3)
    for f in (0.4, 0.2):
        opt.param_groups[0]["lr"] = 1e-2 * f
        opt.zero_grad()
        net(x).pow(2).mean().backward()
        opt.step()
    assert torch.allclose(got, net.weight.detach(), atol=1e-6)


# ------------------------------------------------------------------------------------------
# training, resume and the CLI
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits_run(tmp_path_factory) -> Path:
    """A tiny cyclegan trained 2 steps on digits 3 <-> 8."""
    from genzoo.cli import main

    out = tmp_path_factory.mktemp("cg") / "run"
    try:
        main(["train", "cyclegan", "--data", "digits", "--task", "classes:3,8", "--out", str(out), "--no-progress", *sets(TINY)])
    except SystemExit as e:
        assert not e.code
    return out


def test_two_training_steps_write_a_run(digits_run):
    cfg = json.loads((digits_run / "config.json").read_text())
    c = cfg["config"]
    assert cfg["family"] == "cyclegan" and c["task"] == "classes:3,8" and (c["domain_a"], c["domain_b"]) == ("3", "8")
    assert c["image_size"] == 16 and c["channels"] == 1 and cfg["data"]["class_names"] == ["3", "8"]
    lines = [json.loads(line) for line in (digits_run / "log.jsonl").read_text().splitlines()]
    log = [r for r in lines if "loss_g" in r]
    assert [r["step"] for r in log] == [1, 2]
    assert lines[-1]["class_shares"]["AtoB"].keys() == {"model", "identity", "untrained"}
    assert {"loss_g", "loss_d", "cycle_a", "cycle_b", "identity_a", "g_adv_b", "d_a", "d_b", "lr_factor"} <= set(log[-1])
    assert log[0]["lr_factor"] == 1 and log[1]["lr_factor"] == 0.5  # decay_after=0: linear from the first step
    with Image.open(digits_run / "samples.png") as im:  # 6 rows (A: in/out/back, B: in/out/back) x 2 columns
        assert im.height > im.width
    card = (digits_run / "README.md").read_text()
    assert "pipeline_tag: image-to-image" in card and "3 <-> 8" in card and "cycle-shares" in card
    # after training, the held-out class shares went to the card, with the baselines in the protocol
    ev = cfg["evaluation"]
    assert [e["metric"] for e in ev] == ["target_share_AtoB", "cycle_share_AtoB", "target_share_BtoA", "cycle_share_BtoA"]
    assert all(0 <= e["value"] <= 1 and "identity" in e["protocol"] and e["split"] == "test" for e in ev)
    assert "Target-class share 3 -> 8" in card and "digits classifier" in card


def test_history_buffer_and_training_survive_resume(digits_run, tmp_path):
    import shutil

    from genzoo.engine import Trainer
    from genzoo.engine.checkpoint import find_checkpoint, read_checkpoint
    from genzoo.registry import families

    tensors, _ = read_checkpoint(find_checkpoint(digits_run))
    assert int(tensors["model.pool_a.count"]) > 0  # the buffer holds generated images after two steps
    run = tmp_path / "copy"
    shutil.copytree(digits_run, run)
    tr = Trainer(families.get("cyclegan"), overrides={"steps": 3}, out=run, resume=True, progress=False)
    assert torch.equal(tr.model.pool_a.images, tensors["model.pool_a.images"])
    assert int(tr.model.pool_b.count) == int(tensors["model.pool_b.count"])
    assert tr.fit().steps == 3


def test_translate_cli_both_directions(digits_run, tmp_path, cli):
    write_pngs(tmp_path / "in", 3, 16)
    outs = {}
    for direction in ("AtoB", "BtoA"):
        code, out, err = cli("translate", digits_run, tmp_path / "in", "--direction", direction, "--out", tmp_path / direction,
                             "--grid", tmp_path / f"{direction}.png")
        assert code == 0, err
        files = sorted((tmp_path / direction).glob("*.png"))
        assert [f.name for f in files] == ["0.png", "1.png", "2.png"]
        outs[direction] = np.asarray(Image.open(files[0]))
    assert not np.array_equal(outs["AtoB"], outs["BtoA"])
    code, _, err = cli("translate", digits_run, tmp_path / "in", "--direction", "CtoD", "--out", tmp_path / "x")
    assert code == 1 and "translates AtoB, BtoA" in err
    code, _, err = cli("translate", digits_run, "--data", "digits", "--grid", tmp_path / "g.png")
    assert code == 1 and "builds no (input, target) pairs" in err  # classes:3,8 is not a paired task
    code, _, err = cli("sample", digits_run, "-n", "2", "--out", tmp_path / "s.png")
    assert code == 1 and "cyclegan" in err


def test_class_shares_function_and_command(digits_run, tmp_path, cli):
    from genzoo.hub import load
    from genzoo_cyclegan.shares import class_shares

    r = class_shares(load(digits_run), n=20)
    assert r["classes"] == [3, 8] and r["num_images"]["A"] == 20 and r["split"] == "test"
    for direction in ("AtoB", "BtoA"):
        assert set(r[direction]) == {"model", "identity", "untrained"}
        for v in r[direction].values():
            assert 0 <= v["target"] <= 1 and 0 <= v["cycle"] <= 1
        # the identity: inputs are mostly classified as their own class, rarely as the other
        assert r[direction]["identity"]["cycle"] > 0.8 and r[direction]["identity"]["target"] < 0.2
    code, out, err = cli("cycle-shares", digits_run, "-n", "10", "--json", tmp_path / "s.json")
    assert code == 0, err
    assert "target share" in out and "identity" in out and "untrained" in out
    assert json.loads((tmp_path / "s.json").read_text())["num_images"] == {"A": 10, "B": 10}


def test_class_shares_refuses_runs_without_classes(tmp_path):
    from genzoo_cyclegan.shares import class_shares

    with pytest.raises(GenzooError, match="task classes:A,B|--task classes:A,B"):
        class_shares(model(task="invert"))


# ------------------------------------------------------------------------------------------
# learning: the done-when of issue 15 (a few CPU-minutes)
# ------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_digits_3_to_8_beats_the_identity_baseline(tmp_path):
    """On held-out digits, more translations land in the target class than for the input unchanged."""
    from genzoo.engine import train
    from genzoo.hub import load
    from genzoo_cyclegan.shares import class_shares

    run = tmp_path / "run"
    train("cyclegan", out=run, data="digits", task="classes:3,8", steps=300, progress=False)
    r = class_shares(load(run), n=1000)
    for direction in ("AtoB", "BtoA"):
        got, ident = r[direction]["model"]["target"], r[direction]["identity"]["target"]
        assert got > ident + 0.2, (direction, r[direction])


def test_bench_covers_cyclegan(cli, tmp_path):
    """`genzoo bench` prepares the two domains (--set task=...) and times translate in both directions."""
    out = tmp_path / "bench.json"
    code, _, err = cli("bench", "cyclegan", "--batch-size", "8", "--train-seconds", "0.2", "--chunk-seconds", "0.05",
                       "--sample-seconds", "0.2", "--sample-n", "4", "--set", "task=classes:3,8", "--set", "g_width=4",
                       "--set", "g_blocks=1", "--set", "d_width=4", "--set", "log_every=4", "--json", out)
    assert code == 0, err
    r = json.loads(out.read_text())["families"]["cyclegan"]
    assert r["train"]["genzoo_images_per_s"] > 0 and r["train"]["image_size"] == 16
    assert [s["sampler"] for s in r["sampling"]] == ["translate AtoB", "translate BtoA"]
    assert all(s["n"] == 4 and s["images_per_s"] > 0 for s in r["sampling"])
