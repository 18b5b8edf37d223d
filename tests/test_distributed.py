"""Multi-process training (issue 9): DDP on 2 CPU processes with gloo, launched by torchrun.

The central check: 2 processes with per-rank batch B end with the same weights as 1 process
with batch 2B, within float tolerance. Why this can be exact (see tests/distributed_worker.py):

* the noise (and the gradient penalty's interpolation points) are tied to the data, so both
  runs see the same images *and* the same noise, split or whole;
* the DCGAN's BatchNorm layers run with ``sync_batchnorm=True``: per-rank statistics over B
  images differ from statistics over 2B (that is why plain DDP + BatchNorm is *not* equal to
  one process), while synchronised statistics are the global batch's;
* a run with LayerNorm in the critic, a gradient penalty (double backward through DDP) and 2
  critic steps covers the other adversarial code paths.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

HERE = Path(__file__).parent
WORKER = HERE / "distributed_worker.py"
sys.path.insert(0, str(HERE))

import distributed_worker as W  # noqa: E402

pytestmark = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                                reason="torch.distributed with gloo is not available")

TINY_CLI = ["--device", "cpu", "--batch-size", "8", "--set", "image_size=16", "--set", "g_width=8", "--set", "d_width=8",
            "--set", "latent_dim=16", "--set", "log_every=2", "--set", "checkpoint_every=2", "--set", "sample_every=1000",
            "--set", "num_samples=4", "--no-progress"]


def torchrun(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GENZOO_PROGRESS": "0"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", *args]
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p


def final_state(run: Path, step: int) -> dict[str, torch.Tensor]:
    return load_file(str(run / "checkpoints" / f"step-{step:08d}" / "state.safetensors"))


def max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], prefixes=("model.", "ema.")) -> float:
    keys = [k for k in a if k.startswith(prefixes) and a[k].is_floating_point()]
    assert keys and set(keys) <= set(b)
    return max((a[k].double() - b[k].double()).abs().max().item() for k in keys)


@pytest.fixture(scope="module")
def two_rank_runs(tmp_path_factory) -> dict[str, Path]:
    """Both worker variants, trained once by 2 gloo processes (one torchrun launch)."""
    root = tmp_path_factory.mktemp("ddp")
    runs, probe = root / "runs", root / "probe"
    runs.mkdir()
    probe.mkdir()
    torchrun(str(WORKER), str(runs), str(probe), str(W.PER_RANK), cwd=root)
    return {"root": root, "runs": runs, "probe": probe}


@pytest.fixture(scope="module")
def single_process(tmp_path_factory):
    """state of a one-process run: (variant, batch size) -> final checkpoint tensors (cached)."""
    root, cache = tmp_path_factory.mktemp("single"), {}

    def get(variant: str, batch_size: int) -> dict[str, torch.Tensor]:
        if (variant, batch_size) not in cache:
            t = W.train(root / f"{variant}-{batch_size}", variant, batch_size=batch_size)
            cache[variant, batch_size] = final_state(t.out, W.TINY["steps"])
        return cache[variant, batch_size]

    return get


@pytest.mark.parametrize("variant", W.EQUAL)
def test_two_processes_equal_one_process_on_the_global_batch(two_rank_runs, single_process, variant):
    dist_state = final_state(two_rank_runs["runs"] / variant, W.TINY["steps"])
    # generator, discriminator (BatchNorm statistics included) and the EMA of the generator
    assert max_diff(dist_state, single_process(variant, 2 * W.PER_RANK)) < 2e-5
    # ...and the equality is not trivial: one rank's half of the batch alone trains differently
    assert max_diff(dist_state, single_process(variant, W.PER_RANK)) > 1e-4


def test_without_sync_batchnorm_per_rank_statistics_differ(two_rank_runs, single_process):
    # the "bn" run with per-rank BatchNorm statistics: why the test above needs sync_batchnorm
    local = final_state(two_rank_runs["runs"] / "bn-local", W.TINY["steps"])
    assert max_diff(local, single_process("bn", 2 * W.PER_RANK)) > 1e-4


def test_ranks_hold_identical_replicas_and_only_rank0_writes(two_rank_runs):
    r0 = load_file(str(two_rank_runs["probe"] / "rank0-bn.safetensors"))
    r1 = load_file(str(two_rank_runs["probe"] / "rank1-bn.safetensors"))
    assert r0.keys() == r1.keys()
    assert all(torch.equal(r0[k], r1[k]) for k in r0)  # DDP + SyncBatchNorm keep them bit-identical
    # one run directory per run, nothing else under runs/, each written once
    assert sorted(p.name for p in two_rank_runs["runs"].iterdir()) == sorted(W.VARIANTS)
    for variant in W.VARIANTS:
        run = two_rank_runs["runs"] / variant
        log = (run / "log.jsonl").read_text().splitlines()
        assert len(log) == W.TINY["steps"] // W.TINY["log_every"]  # not one line per rank
        assert (run / "model.safetensors").is_file() and (run / "samples.png").is_file()
        ck = final_state(run, W.TINY["steps"])
        assert {"rng.torch.rank0", "rng.torch.rank1"} <= set(ck)
        assert not torch.equal(ck["rng.torch.rank0"], ck["rng.torch.rank1"])  # each rank its own stream


def test_genzoo_train_nproc_writes_one_run_and_resumes(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("train", "dcgan", "--nproc", "2", "--steps", "4", *TINY_CLI)
    assert code == 0, out + err
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["dcgan-digits"]
    run = tmp_path / "runs" / "dcgan-digits"
    assert len((run / "log.jsonl").read_text().splitlines()) == 2
    code, out, err = cli("train", "dcgan", "--nproc", "2", "--resume", "--steps", "6", *TINY_CLI)
    assert code == 0, out + err
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["dcgan-digits"]
    assert (run / "checkpoints" / "latest").read_text().strip() == "step-00000006"
    import json

    lines = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [2, 4, 6]
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["training"]["world_size"] == 2 and cfg["training"]["steps"] == 6
    assert cfg["training"]["images_seen"] == 6 * 8 * 2  # steps x per-rank batch x ranks


# ------------------------------------------------------------------------------------------
# pieces that need no second process
# ------------------------------------------------------------------------------------------
def test_strip_nproc_and_launch_refuses_inside_torchrun(monkeypatch):
    from genzoo.distributed import launch, strip_nproc
    from genzoo.errors import GenzooError

    assert strip_nproc(["train", "dcgan", "--nproc", "2", "--steps", "3", "--nproc=4"]) == ["train", "dcgan", "--steps", "3"]
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(GenzooError, match="inside torchrun"):
        launch(2, ["train", "dcgan"])
    with pytest.raises(GenzooError, match="at least 1"):
        launch(0, ["train", "dcgan"])


def test_world_size_without_process_group_is_a_clear_error(tmp_path):
    from genzoo.engine import Trainer
    from genzoo.errors import GenzooError
    from genzoo.registry import families

    t = Trainer(families.get("dcgan"), overrides={**W.TINY, "batch_size": 8}, data=W.data_with_noise(), out=tmp_path / "r",
                device="cpu", progress=False, rank=0, world_size=2)
    with pytest.raises(GenzooError, match="torchrun"):
        t.fit()


@pytest.fixture
def one_rank_group(tmp_path):
    """A gloo process group of one process, so the collective code paths run in-process."""
    import torch.distributed as dist

    assert not dist.is_initialized()
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


def test_gloo_sync_batchnorm_equals_batchnorm_on_one_rank(one_rank_group):
    from genzoo.distributed import GlooSyncBatchNorm, convert_sync_batchnorm

    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3))
    with torch.no_grad():  # a non-zero running mean: the shifted sums must still agree
        ref[1].running_mean.fill_(0.7)
    net = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3))
    net.load_state_dict(ref.state_dict())
    weight = net[1].weight
    net = convert_sync_batchnorm(net, torch.device("cpu"))
    assert isinstance(net[1], GlooSyncBatchNorm) and net[1].weight is weight  # same Parameter objects
    x = torch.randn(5, 2, 7, 7) * 3 + 2
    for _ in range(2):
        ya, yb = ref(x), net(x)
        assert torch.allclose(ya, yb, atol=1e-5)
        (ya * torch.arange(ya.numel()).view_as(ya)).sum().backward()
        (yb * torch.arange(yb.numel()).view_as(yb)).sum().backward()
    for pa, pb in zip(ref.parameters(), net.parameters()):
        assert torch.allclose(pa.grad, pb.grad, rtol=1e-4, atol=1e-4)
    for k in ("running_mean", "running_var", "num_batches_tracked"):
        assert torch.allclose(getattr(ref[1], k).double(), getattr(net[1], k).double(), atol=1e-5)
    net.eval(), ref.eval()
    assert torch.allclose(ref(x), net(x), atol=1e-5)
