"""`genzoo bench` (issue 9): the report, the bare loops, and the sampling configurations.

No speed is asserted (the machine is shared); the tests check what is measured and written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from genzoo.bench import BareLoop, BenchSettings, _configured, _sampling_configs, bench_sampling, run_bench
from genzoo.config import ModelConfig
from genzoo.family import Family, GenerativeModel, Phase, Recipe
from genzoo.registry import families, register_family, register_sampler, samplers

TINY_SETS = ["--set", "g_width=8", "--set", "d_width=8", "--set", "latent_dim=16", "--set", "log_every=4"]
QUICK = {"--batch-size": "16", "--train-seconds": "0.2", "--chunk-seconds": "0.05", "--sample-seconds": "0.5",
         "--sample-n": "8"}


def test_bench_cli_writes_json_and_table(cli, tmp_path):
    out = tmp_path / "bench.json"
    code, stdout, stderr = cli("bench", "dcgan", *[x for kv in QUICK.items() for x in kv], *TINY_SETS, "--json", out)
    assert code == 0, stderr
    r = json.loads(out.read_text())
    assert r["torch"] == torch.__version__ and r["threads"] == torch.get_num_threads() and r["device"] == "cpu"
    assert r["machine"]["cpu_count"] >= 1 and r["machine"]["cpu"]
    assert r["settings"]["batch_size"] == 16
    assert r["settings"]["overrides"] == {"g_width": "8", "d_width": "8", "latent_dim": "16", "log_every": "4"}
    d = r["families"]["dcgan"]
    tr = d["train"]
    assert tr["batch_size"] == 16 and tr["image_size"] == 16  # digits' native size, as `genzoo train`
    assert tr["bare_loop"] == "hand-written GAN loop"
    # whole log intervals, each split into chunks that alternate with the bare loop
    assert tr["groups"] >= BenchSettings().min_groups and tr["timed_steps"] == tr["groups"] * 4
    assert tr["timed_steps"] == tr["pairs"] * tr["chunk_steps"] and 4 % tr["chunk_steps"] == 0
    assert tr["genzoo_images_per_s"] > 0 and tr["bare_images_per_s"] > 0
    assert tr["ratio_min"] <= tr["ratio"] <= tr["ratio_max"] and len(tr["pair_seconds"]) == tr["pairs"]
    assert len(tr["group_ratios"]) == tr["groups"]
    assert tr["flop_per_step"] > 0 and tr["genzoo_tflop_per_s"] > 0
    assert tr["engine"]["ema"] == 0.999 and tr["engine"]["log_every"] == 4  # the family's EMA, our log_every
    # parameter counts are the model's
    cfg = families.get("dcgan").config_class.from_dict(d["config"])
    model = families.get("dcgan").build(cfg)
    assert d["params"] == {"generator": sum(p.numel() for p in model.generator.parameters()),
                           "discriminator": sum(p.numel() for p in model.discriminator.parameters()),
                           "total": sum(p.numel() for p in model.parameters())}
    (s,) = d["sampling"]
    assert s["sampler"] == "normal" and s["n"] == 8 and s["images_per_s"] > 0
    assert d["peak_memory_mb"] > 10 and d["memory_kind"].endswith("rss")
    assert "dcgan" in stdout and "sampling" in stdout


def test_bench_unknown_family_fails_before_running(cli):
    code, out, err = cli("bench", "dcgn")
    assert code == 1 and "unknown family 'dcgn'" in out + err and "dcgan" in out + err


def test_bench_rejects_bad_numbers(cli):
    code, out, err = cli("bench", "dcgan", "--sample-steps", "10,x")
    assert code == 1 and "--sample-steps" in out + err
    code, out, err = cli("bench", "dcgan", "--train-seconds", "0")
    assert code == 1 and "--train-seconds must be a finite number > 0, got 0" in out + err


@pytest.mark.parametrize("extra", [{}, {"d_steps": 2, "gp_weight": 10.0, "d_norm": "layer", "grad_clip": 1.0}])
def test_bare_gan_loop_trains_both_networks(extra):
    s = BenchSettings(batch_size=8, overrides={"g_width": 8, "d_width": 8, "latent_dim": 16, **extra})
    fam = families.get("dcgan")
    cfg, data, _ = _configured(fam, s)
    bare = BareLoop(fam, cfg, data, torch.device("cpu"), s)
    before = {k: v.clone() for k, v in bare.model.state_dict().items()}
    bare.run(2)
    after = bare.model.state_dict()
    for net in ("generator.", "discriminator."):
        changed = [k for k in before if k.startswith(net) and not torch.equal(before[k], after[k])]
        assert changed, f"{net} was not trained"
    assert bare.pos == 8 * 2 * cfg.d_steps  # one real batch per critic step


# ------------------------------------------------------------------------------------------
# a toy non-adversarial family with a sampler that takes `steps` (like diffusion's DDIM)
# ------------------------------------------------------------------------------------------
class ToySampler:
    name = "toy-steps"
    description = "toy: `steps` denoiser passes"
    options = ("steps",)

    def supports(self, model: Any) -> bool:
        return isinstance(model, ToyModel)

    def timesteps(self, model: Any, steps: int = 4) -> list[int]:
        return list(range(steps))


class ToyOnce(ToySampler):
    name = "toy-once"
    options = ()

    def timesteps(self, model: Any, **opts: Any) -> list[int]:
        raise NotImplementedError  # evaluations unknown: measured last


@dataclass
class ToyConfig(ModelConfig):
    pass


class ToyModel(GenerativeModel):
    sampling_network = "denoiser"
    default_sampler = "toy-once"

    def __init__(self, config: ToyConfig):
        super().__init__(config)
        self.denoiser = nn.Conv2d(config.channels, config.channels, 3, padding=1)

    def sampler_names(self) -> list[str]:
        return ["toy-steps", "toy-once"]

    def draw_noise(self, n: int, gen: torch.Generator, *, sampler: str | None = None, **kw: Any) -> Tensor:
        c = self.config
        return torch.randn(n, c.channels, c.image_size, c.image_size, generator=gen)

    def _sample_batch(self, noise: Tensor, labels: Tensor | None, steps: int = 1, **kw: Any) -> Tensor:
        x = noise
        for _ in range(steps):
            x = x - 0.1 * self.denoiser(x)
        return x.clamp(-1, 1)


class ToyFamily(Family):
    name = "benchtoy"
    config_class = ToyConfig
    model_class = ToyModel

    def recipe(self, model: Any, config: Any) -> Any:
        def loss(ctx: Any) -> Tensor:
            x = ctx.batch.images
            noisy = x + 0.1 * torch.randn_like(x)
            return (ctx.model.denoiser(noisy) - (noisy - x)).square().mean()

        return Recipe([Phase("model", ["denoiser"], loss)])


@pytest.fixture
def toy_family():
    register_family("benchtoy", ToyFamily, override=True)
    register_sampler("toy-steps", ToySampler, override=True)
    register_sampler("toy-once", ToyOnce, override=True)
    try:
        yield families.get("benchtoy")
    finally:
        families.unregister("benchtoy")
        samplers.unregister("toy-steps")
        samplers.unregister("toy-once")


def test_bench_any_family_uses_its_loss_and_times_each_sampler_and_step_count(toy_family):
    s = BenchSettings(batch_size=8, train_seconds=0.1, chunk_seconds=0.02, min_groups=2, sample_steps=(3, 1),
                      sample_seconds=0.2, overrides={"ema": 0.0, "log_every": 6})
    report = run_bench(["benchtoy"], s)
    r = report["families"]["benchtoy"]
    assert r["train"]["bare_loop"] == "family loss functions in a minimal loop"
    assert r["train"]["groups"] >= 2 and r["params"] == {"denoiser": 9 + 1, "total": 9 + 1}  # Conv2d(1, 1, 3)
    got = [(e["sampler"], e.get("steps"), e.get("evaluations")) for e in r["sampling"]]
    # cheapest first; a sampler whose evaluations are unknown goes last
    assert got == [("toy-steps", 1, 1), ("toy-steps", 3, 3), ("toy-once", None, None)]
    assert all(e["images_per_s"] > 0 for e in r["sampling"]), r["sampling"]


def test_slow_samplers_are_extrapolated_not_run(toy_family):
    fam = toy_family
    s = BenchSettings(batch_size=8, sample_steps=(2, 5000), sample_seconds=1e-4)
    cfg, data, _ = _configured(fam, s)
    model = fam.build(cfg)
    configs = _sampling_configs(model, s)
    assert [(c[0], c[1], c[2]) for c in configs] == [("toy-steps", {"steps": 2}, 2), ("toy-steps", {"steps": 5000}, 5000),
                                                     ("toy-once", {}, None)]
    calls: list[int] = []
    orig = model._sample_batch
    model._sample_batch = lambda noise, labels, steps=1, **kw: calls.append(steps) or orig(noise, labels, steps=steps)
    res = bench_sampling(model, s, torch.device("cpu"), 8)
    fast, slow = res[0], res[1]
    assert not fast.get("estimated") and fast["calls"] >= 1
    assert slow["estimated"] is True and slow["n"] == 0 and 5000 not in calls  # never run
    # the estimate is the measured per-evaluation cost times the evaluations
    assert slow["images_per_s"] == pytest.approx(fast["images_per_s"] * 2 / 5000, rel=0.02)


def test_switch_comparison_is_relative_to_the_first(cli):
    from genzoo.bench import compare_switches

    s = BenchSettings(batch_size=8, train_seconds=0.05, chunk_seconds=0.01, min_pairs=2,
                      overrides={"g_width": 8, "d_width": 8, "latent_dim": 16})
    out = compare_switches(families.get("dcgan"), s, torch.device("cpu"), ["fp32", "bf16"])
    v = out["variants"]
    assert list(v) == ["fp32", "bf16"] and v["fp32"]["speedup"] == 1.0 and v["bf16"]["precision"] == "bf16"
    assert out["rounds"] >= 2 and all(v[n]["steps"] == out["rounds"] * out["chunk_steps"][n] for n in v)
    code, o, e = cli("bench", "dcgan", "--switches", "fp32,fp64")
    assert code == 1 and "unknown speed switch 'fp64'" in o + e


def test_gpu_peaks_are_looked_up_most_specific_first():
    from genzoo.bench import gpu_peak_tflops

    assert gpu_peak_tflops("NVIDIA H100 80GB HBM3") == 989.4
    assert gpu_peak_tflops("NVIDIA H100 PCIe") == 756.0
    assert gpu_peak_tflops("NVIDIA H200") == 989.4
    assert gpu_peak_tflops("Some Other GPU") is None
