"""Data larger than memory (#17): the memory budget, the uint8 disk cache, the streamed path,
ranks reading disjoint shards, and resume continuing the data order on every path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from genzoo.data import RawImages, UnreadableImage
from genzoo.data.pipeline import (
    CacheStorage, LazyImages, SourceStorage, build_cache, cache_key, check_cache, choose_path, load_training_data,
    memory_budget, open_cache, parse_bytes, to_unit_range,
)
from genzoo.data.source import NO_LABEL, TensorSource
from genzoo.engine import Trainer, train
from genzoo.engine.batches import Batches, Order
from genzoo.errors import GenzooError
from genzoo.registry import families
from tests.conftest import TINY_DCGAN

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GENZOO_MEMORY_LIMIT", raising=False)


def raw_images(n: int = 40, c: int = 3, s: int = 8, labelled: bool = True) -> RawImages:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, c, s, s), generator=g, dtype=torch.uint8)
    y = torch.arange(n) % 4 if labelled else None
    return RawImages(x, y, ["a", "b", "c", "d"] if labelled else [], native_size=s, source="synthetic")


class Counting(TensorSource):
    """A source that records what it decodes, and fails on the items in ``bad``."""

    def __init__(self, raw: RawImages, bad: tuple[int, ...] = ()):
        super().__init__(raw, "synthetic", "train")
        self.reads: list[int] = []
        self.bad = set(bad)

    def read(self, i: int):
        if i in self.bad:
            raise UnreadableImage(Path(f"item{i}.png"), "unreadable", "damaged")
        self.reads.append(i)
        return super().read(i)


# -- the budget --------------------------------------------------------------------------------
@pytest.mark.parametrize("text,want", [("8GB", 8 * 10**9), ("500 MB", 5 * 10**8), ("2GiB", 2 * 2**30),
                                       ("1.5g", 15 * 10**8), ("1000", 1000), ("1KiB", 1024)])
def test_sizes_parse(text, want):
    assert parse_bytes(text) == want


@pytest.mark.parametrize("text,msg", [("abc", "is not a size"), ("-1GB", "is not a size"), ("0", "larger than zero"),
                                      ("8 parsecs", "is not a size"), ("", "is not a size")])
def test_bad_sizes_are_one_line_errors(text, msg):
    with pytest.raises(GenzooError, match=msg):
        parse_bytes(text)


def test_budget_option_env_and_default(monkeypatch):
    assert memory_budget("1GB").limit == 10**9
    monkeypatch.setenv("GENZOO_MEMORY_LIMIT", "3MB")
    b = memory_budget()
    assert (b.limit, b.how) == (3 * 10**6, "GENZOO_MEMORY_LIMIT")
    assert memory_budget("1GB").how == "--memory-limit"  # the option wins over the env
    monkeypatch.delenv("GENZOO_MEMORY_LIMIT")
    assert memory_budget().how.startswith("half of ")


def test_auto_keeps_memory_when_it_fits_else_the_cache():
    b = memory_budget("1MB")
    assert choose_path("auto", 10**6, b)[0] == "memory"
    assert choose_path("auto", 10**6 + 1, b)[0] == "cache"
    assert choose_path("stream", 1, b)[0] == "stream"
    with pytest.raises(GenzooError, match="unknown --data-path 'fast'"):
        choose_path("fast", 1, b)


# -- the cache ---------------------------------------------------------------------------------
def test_cache_holds_the_sources_items_and_opens_again_without_decoding():
    src = Counting(raw_images())
    storage, notes = open_cache(src, quiet=True)
    assert notes == [] and len(src.reads) == 40
    assert storage.array.shape == (40, 3, 8, 8) and storage.array.dtype == np.uint8
    assert torch.equal(torch.from_numpy(storage.array.copy()), src.raw.images)
    assert torch.equal(storage.labels, torch.arange(40) % 4)
    again = Counting(raw_images())
    storage2, notes2 = open_cache(again, quiet=True)
    assert again.reads == [] and notes2 == [] and storage2.folder == storage.folder
    assert not [p for p in storage.folder.parent.iterdir() if ".tmp-" in p.name]


def test_lazy_images_index_like_the_tensor():
    src = Counting(raw_images())
    lazy = LazyImages(open_cache(src, quiet=True)[0])
    full = to_unit_range(src.raw.images)
    assert lazy.shape == full.shape and len(lazy) == 40
    assert torch.equal(lazy[3], full[3])
    assert torch.equal(lazy[5:9], full[5:9])
    assert torch.equal(lazy[-1], full[-1])
    idx = torch.tensor([7, 2, 2, 30])
    assert torch.equal(lazy[idx], full[idx])
    mask = torch.arange(40) % 3 == 0
    assert torch.equal(lazy[mask], full[mask])
    assert lazy[:4].dtype == torch.float32 and float(lazy[:4].min()) >= -1 and float(lazy[:4].max()) <= 1
    with pytest.raises(IndexError):
        lazy[40]


def test_unreadable_items_are_skipped_and_counted():
    src = Counting(raw_images(), bad=(3, 17))
    storage, notes = open_cache(src, quiet=True)
    assert storage.n == 38
    assert any("skipped 2 unreadable item(s)" in n and "item3.png" in n for n in notes)
    assert torch.equal(torch.from_numpy(storage.array[3].copy()), src.raw.images[4])


@pytest.mark.parametrize("damage", ["truncate", "garbage", "no-meta", "wrong-shape"])
def test_a_damaged_cache_is_rebuilt_with_a_note(damage):
    src = Counting(raw_images())
    storage, _ = open_cache(src, quiet=True)
    folder = storage.folder
    del storage
    img = folder / "images.npy"
    if damage == "truncate":
        img.write_bytes(img.read_bytes()[:-100])
    elif damage == "garbage":
        img.write_bytes(b"not numpy at all")
    elif damage == "no-meta":
        (folder / "meta.json").unlink()
    else:
        meta = json.loads((folder / "meta.json").read_text())
        meta["n"] = 39
        (folder / "meta.json").write_text(json.dumps(meta))
    assert check_cache(folder, src) is not None
    storage, notes = open_cache(src, quiet=True)
    assert any("unusable" in n and "rebuilt it" in n for n in notes)
    assert check_cache(folder, src) is None
    assert torch.equal(torch.from_numpy(storage.array.copy()), src.raw.images)


def test_a_killed_build_leaves_nothing_that_looks_finished():
    class Dies(Counting):
        def read(self, i):
            if i == 25:
                raise KeyboardInterrupt
            return super().read(i)

    src = Dies(raw_images())
    folder = Path(src.fingerprint())  # placeholder, replaced below
    with pytest.raises(KeyboardInterrupt):
        open_cache(src, quiet=True)
    from genzoo.data.pipeline import image_cache_dir  # here: only this test needs the folder's name

    folder = image_cache_dir() / cache_key(src)
    assert not folder.exists()
    assert not [p for p in image_cache_dir().iterdir() if ".tmp-" in p.name]
    storage, _ = open_cache(Counting(raw_images()), quiet=True)  # the next run builds it whole
    assert storage.n == 40


def test_build_refuses_a_disk_without_room(monkeypatch, tmp_path):
    import shutil  # here: only to fake a full disk

    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10, 10, 0))
    with pytest.raises(GenzooError, match="the disk cache needs .* free; free space, set GENZOO_CACHE"):
        build_cache(Counting(raw_images()), tmp_path / "c" / "x", quiet=True)


# -- order and ranks ---------------------------------------------------------------------------
def test_ranks_take_disjoint_slices_that_cover_each_global_batch():
    n, bs, world = 50, 4, 3
    orders = [Order(n, bs, seed=5, rank=r, world=world) for r in range(world)]
    ref = Order(n, bs * world, seed=5)  # one process drawing whole global batches
    for _ in range(12):  # several epochs (50 // 12 = 4 global batches each)
        parts = [o.next() for o in orders]
        whole = ref.next()
        assert torch.equal(torch.cat(parts), whole)
        sets = [set(p.tolist()) for p in parts]
        assert all(len(s) == bs for s in sets)
        assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])


@pytest.mark.parametrize("path", ["cache", "stream"])
def test_each_rank_reads_only_its_own_indices(path, monkeypatch):
    """No rank decodes the whole set and no two ranks the same item within an epoch."""
    world, bs, steps = 2, 4, 5  # 5 global batches of 8 from 40: one epoch
    seen = []
    for rank in range(world):
        if path == "stream":
            src = Counting(raw_images())
            storage = SourceStorage(src)
        else:
            storage = open_cache(Counting(raw_images()), quiet=True)[0]
            reads: list[int] = []
            real = storage.read

            def spy(idx, real=real, reads=reads):
                reads.extend(int(i) for i in idx)
                return real(idx)

            storage.read = spy  # type: ignore[method-assign]
        ds = _lazy_dataset(storage)
        b = Batches(ds, bs, seed=3, device=CPU, rank=rank, world=world, workers=0)
        for _ in range(steps):
            next(b)
        got = src.reads if path == "stream" else reads
        assert len(got) == bs * steps < 40
        seen.append(set(got))
    assert not seen[0] & seen[1]
    assert seen[0] | seen[1] == set(range(40))


def _lazy_dataset(storage):
    from genzoo.data import ImageDataset  # here: with the helpers it serves

    labels = storage.label_array()
    return ImageDataset("synthetic", "train", LazyImages(storage), labels, ["a", "b", "c", "d"])


def _draw(b, k):
    return [next(b) for _ in range(k)]


@pytest.mark.parametrize("path,workers", [("cache", 0), ("stream", 0), ("stream", 1)])
def test_resume_continues_the_data_order_exactly(path, workers):
    """Stopped after 4 batches and resumed in a new batcher: the same 9 batches (across an epoch
    boundary: 40 // 8 = 5 per epoch) as one that ran through, and the same as in memory."""

    def make():
        storage = SourceStorage(Counting(raw_images())) if path == "stream" else open_cache(
            Counting(raw_images()), quiet=True)[0]
        return Batches(_lazy_dataset(storage), 8, seed=11, device=CPU, workers=workers)

    through = _draw(make(), 9)
    first = make()
    part = _draw(first, 4)
    tensors, scalars = first.state()
    second = make()
    second.load_state({k: v.clone() for k, v in tensors.items()}, dict(scalars))
    part += _draw(second, 5)
    for a, b in zip(through, part):
        assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    # and the in-memory path gives the same batches for the same seed
    from genzoo.data import dataset_from_raw  # here: only this comparison needs it

    mem = Batches(dataset_from_raw(raw_images(), "synthetic", quiet=True), 8, seed=11, device=CPU)
    for a, b in zip(through, _draw(mem, 9)):
        assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert first.epochs_completed == 0 and second.epochs_completed == 1


def test_streamed_batches_leave_unreadable_items_out():
    src = Counting(raw_images(), bad=tuple(range(0, 40, 2)))
    b = Batches(_lazy_dataset(SourceStorage(src)), 8, seed=0, device=CPU, workers=0)
    sizes = [next(b).images.shape[0] for _ in range(5)]
    assert sum(sizes) == 20 and b.skipped == 20


def test_paired_data_stays_in_memory_with_a_clear_error():
    raw = raw_images()
    raw.extra = {"inputs": raw.images.clone()}
    from genzoo.registry import register_dataset  # here: a throwaway dataset for this test

    register_dataset("pipeline-pairs", lambda arg, *, split, data_dir=None: raw)
    with pytest.raises(GenzooError, match="paired data, which is read in memory only"):
        load_training_data("pipeline-pairs", memory_limit="1kB", quiet=True)


# -- through the trainer -----------------------------------------------------------------------
def test_training_reads_a_cache_when_the_data_does_not_fit(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GENZOO_MEMORY_LIMIT", "100kB")  # digits at 16 px: 1.54 MB as float32
    res = train("dcgan", out=tmp_path / "r", progress=False, **TINY_DCGAN)
    out = capsys.readouterr().err
    assert "1,500 images 1x16x16 = 1.54 MB as float32; limit 100 kB (GENZOO_MEMORY_LIMIT): cache" in out.replace("\n", " ")
    reading = json.loads((res.run_dir / "config.json").read_text())["data"]["reading"]
    assert reading["path"] == "cache" and reading["memory_limit"] == 100_000
    assert Path(reading["cache"]).is_dir()


@pytest.mark.parametrize("path", ["cache", "stream"])
def test_a_lazy_run_resumed_matches_one_that_ran_through(tmp_path, path):
    kw = {"data_path": path, "data_workers": 1, "progress": False}
    straight = train("dcgan", out=tmp_path / "s", **TINY_DCGAN, **kw)
    train("dcgan", out=tmp_path / "r", **{**TINY_DCGAN, "steps": 3}, **kw)
    res = Trainer(families.get("dcgan"), overrides={"steps": 6}, out=tmp_path / "r", resume=True, **kw).fit()
    assert res.steps == 6
    a, b = load_file(str(straight.run_dir / "model.safetensors")), load_file(str(tmp_path / "r" / "model.safetensors"))
    assert sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) for k in a)


def test_memory_path_is_the_default_and_records_it(tmp_path):
    res = train("dcgan", out=tmp_path / "m", progress=False, **TINY_DCGAN)
    reading = json.loads((res.run_dir / "config.json").read_text())["data"]["reading"]
    assert reading["path"] == "memory" and reading["memory_limit_from"].startswith("half of ")


def test_unlabelled_stream_has_no_labels():
    src = Counting(raw_images(labelled=False))
    assert src.read(0)[1] == NO_LABEL
    b = Batches(_lazy_dataset(SourceStorage(src)).__class__("s", "train", LazyImages(SourceStorage(src)), None, []),
                8, seed=0, device=CPU, workers=0)
    assert next(b).labels is None


def test_cache_storage_pickles_for_worker_processes():
    import pickle  # here: only this test pickles

    storage = open_cache(Counting(raw_images()), quiet=True)[0]
    twin = pickle.loads(pickle.dumps(storage))
    assert isinstance(twin, CacheStorage)
    assert torch.equal(twin.read(np.array([1, 2]))[0], storage.read(np.array([1, 2]))[0])


# -- several processes, for real ---------------------------------------------------------------
@pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                    reason="torch.distributed with gloo is not available")
@pytest.mark.slow  # six 2-process launches: minutes on a shared CPU
@pytest.mark.parametrize("path", ["cache", "stream"])
def test_two_processes_read_lazy_data_and_resume_exactly(cli, tmp_path, monkeypatch, path):
    """`--nproc 2` on a cache (both ranks open it; one builds) or streamed with workers: 4 steps
    + --resume to 6 ends with the weights of 6 straight steps."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    tiny = ["--device", "cpu", "--batch-size", "8", "--set", "image_size=16", "--set", "g_width=8", "--set",
            "d_width=8", "--set", "latent_dim=16", "--set", "log_every=2", "--set", "checkpoint_every=2",
            "--set", "sample_every=1000", "--set", "num_samples=4", "--no-progress", "--data-path", path,
            "--data-workers", "1"]
    code, out, err = cli("train", "dcgan", "--nproc", "2", "--steps", "6", "--out", tmp_path / "s", *tiny)
    assert code == 0, out + err
    code, out, err = cli("train", "dcgan", "--nproc", "2", "--steps", "4", "--out", tmp_path / "r", *tiny)
    assert code == 0, out + err
    code, out, err = cli("train", "dcgan", "--nproc", "2", "--steps", "6", "--out", tmp_path / "r", "--resume", *tiny)
    assert code == 0, out + err
    a, b = load_file(str(tmp_path / "s" / "model.safetensors")), load_file(str(tmp_path / "r" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    cfg = json.loads((tmp_path / "r" / "config.json").read_text())
    assert cfg["data"]["reading"]["path"] == path and cfg["training"]["world_size"] == 2
    if path == "cache":
        assert len(list((tmp_path / "cache" / "images").glob("[0-9a-f]*"))) == 1  # one cache, shared by the ranks


def test_paired_families_refuse_lazy_data_clearly(tmp_path):
    with pytest.raises(GenzooError, match="pix2pix trains on paired data .* in memory only.*--data-path memory"):
        Trainer(families.get("pix2pix"), overrides={"steps": 1, "task": "superres"}, out=tmp_path / "p",
                data_path="cache", progress=False)


def test_mean_image_of_lazy_data_equals_the_tensors():
    from genzoo.plugin import mean_image  # the public accessor plugins use

    src = Counting(raw_images(n=40))
    lazy = LazyImages(open_cache(src, quiet=True)[0])
    full = to_unit_range(src.raw.images)
    assert torch.allclose(mean_image(lazy, chunk=7), mean_image(full), atol=1e-6)
    assert mean_image(lazy).shape == (1, 3, 8, 8)


# -- genzoo bench --data-loading -----------------------------------------------------------------
def test_data_loading_bench_reports_every_path_and_size(cli, tmp_path):
    out = tmp_path / "bench.json"
    code, stdout, err = cli("bench", "--data-loading", "--data", "synthetic:96x16", "--sizes", "8,16", "--batch-size", "16",
                            "--data-seconds", "0.05", "--data-workers", "0", "--json", out)
    assert code == 0, stdout + err
    report = json.loads(out.read_text())
    assert report["kind"] == "data-loading" and report["settings"]["sizes"] == [8, 16]
    assert [r["image_size"] for r in report["sizes"]] == [8, 16]
    for row in report["sizes"]:
        assert row["num_images"] == 96 and row["channels"] == 3
        assert set(row["paths"]) == {"memory", "cache", "stream"}
        for r in row["paths"].values():
            assert r["images_per_s"] > 0 and r["images"] >= 3 * 16 and isinstance(r["limits_training"], bool)
        assert row["train_step"]["family"] == "dcgan" and row["train_step"]["images_per_s"] > 0
        assert Path(row["paths"]["cache"]["cache"]).is_dir()
    assert "limited by" in stdout and "16px" in stdout


def test_data_loading_bench_skips_memory_over_the_limit(cli, tmp_path):
    out = tmp_path / "bench.json"
    code, stdout, err = cli("bench", "--data-loading", "--data", "synthetic:64x16", "--sizes", "16", "--batch-size", "16",
                            "--data-seconds", "0.05", "--data-paths", "memory,cache", "--memory-limit", "10kB",
                            "--json", out)
    assert code == 0, stdout + err
    row = json.loads(out.read_text())["sizes"][0]
    assert "over the memory limit" in row["paths"]["memory"]["skipped"]
    assert row["paths"]["cache"]["images_per_s"] > 0


def test_synthetic_data_is_deterministic_and_lazy():
    from genzoo.data.source import open_source  # here: with the synthetic data it opens

    a, b = open_source("synthetic:50x16", image_size=8), open_source("synthetic:50x16", image_size=8)
    assert len(a) == 50 and a.channels == 3 and a.image_size == 8
    assert torch.equal(a.read(7)[0], b.read(7)[0]) and a.read(7)[1] == 7
    assert not torch.equal(a.read(7)[0], a.read(8)[0])
    test = open_source("synthetic:50x16", split="test")
    assert not torch.equal(test.read(0)[0], open_source("synthetic:50x16").read(0)[0])


# -- flips and crops ---------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["memory", "cache"])
def test_flips_and_crops_are_seeded_and_keep_shapes(path):
    from genzoo.data import dataset_from_raw  # here: the in-memory twin of the cached data

    def make(**aug):
        data = dataset_from_raw(raw_images(), "synthetic", quiet=True) if path == "memory" else \
            _lazy_dataset(open_cache(Counting(raw_images()), quiet=True)[0])
        return Batches(data, 8, seed=2, device=CPU, **aug)

    plain = _draw(make(), 3)
    flipped = _draw(make(hflip=True), 3)
    again = _draw(make(hflip=True), 3)
    assert all(torch.equal(a.images, b.images) for a, b in zip(flipped, again))  # same seed, same batches
    n_flipped = 0
    for a, b in zip(plain, flipped):
        for x, y in zip(a.images, b.images):
            assert torch.equal(x, y) or torch.equal(x.flip(-1), y)
            n_flipped += not torch.equal(x, y)
    assert 3 <= n_flipped <= 21  # about half of 24
    cropped = _draw(make(random_crop=2), 3)
    assert all(c.images.shape == a.images.shape for a, c in zip(plain, cropped))
    assert any(not torch.equal(a.images, c.images) for a, c in zip(plain, cropped))
    assert all(torch.equal(a.labels, c.labels) for a, c in zip(plain, cropped))


def test_a_resumed_augmented_batcher_draws_the_same(tmp_path):
    def make():
        return Batches(_lazy_dataset(open_cache(Counting(raw_images()), quiet=True)[0]), 8, seed=4, device=CPU,
                       hflip=True, random_crop=1)

    through = _draw(make(), 7)
    first = make()
    part = _draw(first, 3)
    second = make()
    second.load_state(*first.state())
    part += _draw(second, 4)
    assert all(torch.equal(a.images, b.images) for a, b in zip(through, part))


def test_worker_count_from_env_and_share(monkeypatch):
    from genzoo.data.pipeline import default_workers  # here: only this test reads it

    monkeypatch.setenv("GENZOO_DATA_WORKERS", "3")
    assert default_workers() == 3 and default_workers(world=4) == 3
    monkeypatch.setenv("GENZOO_DATA_WORKERS", "many")
    with pytest.raises(GenzooError, match="GENZOO_DATA_WORKERS 'many' must be a whole number 0 or more"):
        default_workers()
    monkeypatch.delenv("GENZOO_DATA_WORKERS")
    assert 1 <= default_workers(world=64) <= default_workers() <= 4
