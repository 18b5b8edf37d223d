"""Hub datasets (``--data hf:...``) for real: the `datasets` library against the loopback Hub server.

A tiny dataset repo (one parquet file per split, an Image column of PNG bytes and a ClassLabel
column) is served by ``tests/hubserver.py``; `datasets` fetches it through its own client and
cache, exactly as it would from the Hub. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import io
import json
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.data import load_dataset
from genzoo.data.hf import ALIASES, parse_hf
from genzoo.errors import GenzooError
from tests.hubserver import HubServer
from tests.test_hub import dead_url

datasets = pytest.importorskip("datasets")

CLASSES = ["circle", "square", "stripe"]


def png(i: int, size: int = 12, mode: str = "RGB") -> bytes:
    """A deterministic picture whose mean brightness encodes i (so order can be checked)."""
    rng = np.random.RandomState(i)
    shape = (size, size, 3) if mode == "RGB" else (size, size)
    arr = (rng.rand(*shape) * 40 + 10 * (i % 20)).astype("uint8")
    buf = io.BytesIO()
    Image.fromarray(arr, mode).save(buf, "PNG")
    return buf.getvalue()


def parquet(tmp_path, name: str, columns: dict, features) -> bytes:
    ds = datasets.Dataset.from_dict(columns, features=features)
    path = tmp_path / f"{name}.parquet"
    ds.to_parquet(str(path))
    return path.read_bytes()


def tiny_repo(tmp_path, n_train: int = 24, n_test: int = 6, image_col: str = "img", label_col: str = "fine_label",
              mode: str = "RGB", size: int = 12) -> dict[str, bytes]:
    feats = datasets.Features({image_col: datasets.Image(), label_col: datasets.ClassLabel(names=CLASSES),
                               "caption": datasets.Value("string")})
    files = {}
    for split, n, off in (("train", n_train, 0), ("test", n_test, 1000)):
        cols = {image_col: [{"bytes": png(off + i, size, mode), "path": None} for i in range(n)],
                label_col: [i % 3 for i in range(n)], "caption": [f"picture {i}" for i in range(n)]}
        files[f"data/{split}-00000-of-00001.parquet"] = parquet(tmp_path, f"{split}-{image_col}", cols, feats)
    return files


@pytest.fixture
def hfhub(tmp_path, monkeypatch):
    """The loopback Hub, with huggingface_hub's and datasets' import-time defaults pointed at a dead port:
    a request genzoo forgets to route through HF_ENDPOINT fails here, and never leaves the machine."""
    from huggingface_hub import constants

    server = HubServer(tmp_path / "hub-data").start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_TOKEN", server.token)
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    for var in ("HF_HUB_CACHE", "HF_HUB_OFFLINE", "HF_DATASETS_CACHE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    dead = dead_url()
    monkeypatch.setattr(constants, "ENDPOINT", dead)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", dead + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "no-stored-tokens"))
    monkeypatch.setattr(datasets.config, "HF_ENDPOINT", dead)
    monkeypatch.setattr(datasets.config, "HUB_DATASETS_URL", dead + "/datasets/{repo_id}/resolve/{revision}/{path}")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    yield server
    server.stop()
    assert server.unhandled == []


def test_columns_and_class_names_are_found_from_the_features(hfhub, tmp_path):
    hfhub.add_dataset("user/tiny-ds", tiny_repo(tmp_path))
    ds = load_dataset("hf:user/tiny-ds")
    assert ds.images.shape == (24, 3, 12, 12) and ds.images.dtype == torch.float32
    assert -1.0 <= float(ds.images.min()) and float(ds.images.max()) <= 1.0
    assert ds.class_names == CLASSES and ds.labels.tolist() == [i % 3 for i in range(24)]
    assert "image column 'img'" in ds.source and "label column 'fine_label'" in ds.source
    # Pixels arrive unchanged (PNG is lossless and no resize happens at the native size).
    want = np.asarray(Image.open(io.BytesIO(png(5))))
    got = ((ds.images[5].permute(1, 2, 0) + 1) / 2 * 255).round().to(torch.uint8).numpy()
    assert np.array_equal(got, want)
    test = load_dataset("hf:user/tiny-ds", split="test")
    assert len(test) == 6 and test.labels.tolist() == [i % 3 for i in range(6)]
    routes = hfhub.routes()
    assert any(r.startswith("GET /datasets/user/tiny-ds/resolve/") and r.endswith(".parquet") for r in routes), "\n".join(routes)


def test_columns_named_by_options_and_labels_ignored(hfhub, tmp_path):
    hfhub.add_dataset("user/named", tiny_repo(tmp_path, image_col="picture", label_col="kind", mode="L", size=10))
    ds = load_dataset("hf:user/named?image=picture&label=kind")
    assert ds.images.shape == (24, 1, 10, 10) and ds.class_names == CLASSES
    unlabelled = load_dataset("hf:user/named?label=none")
    assert unlabelled.labels is None and unlabelled.num_classes == 0
    with pytest.raises(GenzooError, match="has no column 'pic'"):
        load_dataset("hf:user/named?image=pic")
    with pytest.raises(GenzooError, match="holds Value, not images|not images"):
        load_dataset("hf:user/named?image=caption")


def test_revision_selects_the_commit(hfhub, tmp_path):
    first = hfhub.add_dataset("user/versions", tiny_repo(tmp_path, n_train=6))
    hfhub.add_dataset("user/versions", tiny_repo(tmp_path, n_train=9))
    assert len(load_dataset("hf:user/versions")) == 9
    assert len(load_dataset(f"hf:user/versions@{first}")) == 6
    with pytest.raises(GenzooError, match="revision 'nope' not found"):
        load_dataset("hf:user/versions@nope")


def test_second_load_works_offline_from_the_cache(hfhub, tmp_path, monkeypatch):
    hfhub.add_dataset("user/tiny-ds", tiny_repo(tmp_path))
    online = load_dataset("hf:user/tiny-ds")
    hfhub.stop()  # the Hub is gone: only the cache can answer
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    offline = load_dataset("hf:user/tiny-ds", split="test")
    assert len(offline) == 6
    again = load_dataset("hf:user/tiny-ds")
    assert torch.equal(again.images, online.images) and again.class_names == CLASSES
    with pytest.raises(GenzooError, match="not in the local dataset cache and HF_HUB_OFFLINE is set"):
        load_dataset("hf:user/never-loaded")


def test_unknown_repo_and_no_image_column_are_clear_errors(hfhub, tmp_path):
    with pytest.raises(GenzooError, match="was not found on the Hub") as e:
        load_dataset("hf:user/missing")
    assert "\n" not in str(e.value)
    feats = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["a", "b"])})
    hfhub.add_dataset("user/text-only", {"data/train-00000-of-00001.parquet": parquet(
        tmp_path, "text", {"text": ["x", "y"], "label": [0, 1]}, feats)})
    with pytest.raises(GenzooError, match="has no image column"):
        load_dataset("hf:user/text-only")


def test_missing_datasets_library_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # `import datasets` now raises ImportError
    with pytest.raises(GenzooError, match=r"pip install 'genzoo\[hf\]'"):
        load_dataset("hf:user/anything")


def test_spec_parsing_and_aliases():
    s = parse_hf("user/ds:cfg@v1?image=img&label=y")
    assert (s.repo, s.config, s.revision, s.options) == ("user/ds", "cfg", "v1", {"image": "img", "label": "y"})
    assert parse_hf("mnist").repo == ALIASES["mnist"][0]
    assert parse_hf("fashion_mnist").repo == "zalando-datasets/fashion_mnist"
    for bad, msg in (("user/ds@../x", "not a Hub revision"), ("x", "not a Hub dataset id"),
                     ("user/ds?colour=red", "unknown hf: option"), ("", "needs a dataset")):
        with pytest.raises(GenzooError, match=msg):
            parse_hf(bad)


def test_list_datasets_shows_the_aliases(cli):
    code, out, err = cli("list", "datasets")
    assert code == 0, err
    for name in ("mnist", "cifar10", "celeba", "fashion-mnist", "hf"):
        assert name in out
    assert "hf:fashion_mnist" in out.replace("\n", "").replace(" ", "") or "hf:fashion_mni" in out


def test_train_dcgan_on_a_hub_dataset_through_the_cli(hfhub, tmp_path, cli):
    hfhub.add_dataset("user/tiny-ds", tiny_repo(tmp_path, n_train=32, size=16))
    out = tmp_path / "run"
    code, stdout, err = cli("train", "dcgan", "--data", "hf:user/tiny-ds", "--steps", "3", "--out", out,
                            "--set", "batch_size=8", "--set", "image_size=16")
    assert code == 0, err
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["data"]["name"] == "hf:user/tiny-ds" and cfg["data"]["num_images"] == 32
    assert cfg["data"]["class_names"] == CLASSES and cfg["data"]["channels"] == 3
    assert (out / "model.safetensors").is_file()


def test_stream_reads_only_the_first_rows_without_downloading(hfhub, tmp_path):
    hfhub.add_dataset("user/tiny-ds", tiny_repo(tmp_path))
    ds = load_dataset("hf:user/tiny-ds?stream=10")
    assert ds.images.shape == (10, 3, 12, 12) and ds.class_names == CLASSES
    assert ds.labels.tolist() == [i % 3 for i in range(10)]
    routes = hfhub.routes()
    assert any(r.startswith("GET /datasets/user/tiny-ds/resolve/") and r.endswith("train-00000-of-00001.parquet")
               for r in routes), routes
    # Streaming read the file over HTTP; nothing was saved in the download caches.
    home = tmp_path / "hf-home"
    assert not list(home.glob("hub/datasets--user--tiny-ds/blobs/*")) and not list(home.glob("datasets/downloads/*"))
    full = load_dataset("hf:user/tiny-ds")
    assert torch.equal(ds.images, full.images[:10])


# -- read lazily (#17 part 2): row by row, into the disk cache, or streamed by workers ---------------
def test_hub_dataset_as_a_source_reads_rows_like_the_whole_load(hfhub, tmp_path, monkeypatch):
    from genzoo.data.source import open_source  # here: with the lazy-data tests

    hfhub.add_dataset("user/tiny-ds", tiny_repo(tmp_path))
    whole = load_dataset("hf:user/tiny-ds")
    src = open_source("hf:user/tiny-ds")
    assert (len(src), src.channels, src.image_size, src.class_names) == (24, 3, 12, CLASSES)
    for i in (0, 5, 23):
        x, y = src.read(i)
        assert torch.equal(x.float() / 255 * 2 - 1, whole.images[i]) and y == i % 3
    assert open_source("hf:user/tiny-ds", image_size=8).read(0)[0].shape == (3, 8, 8)
    assert src.fingerprint() == open_source("hf:user/tiny-ds").fingerprint()
    import pickle  # here: workers receive the source pickled

    assert torch.equal(pickle.loads(pickle.dumps(src)).read(3)[0], src.read(3)[0])


@pytest.mark.parametrize("path", ["cache", "stream"])
def test_train_on_a_hub_dataset_read_lazily(hfhub, tmp_path, cli, monkeypatch, path):
    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path / "cache"))
    hfhub.add_dataset("user/tiny-ds", tiny_repo(tmp_path))
    out = tmp_path / "run"
    code, stdout, err = cli("train", "dcgan", "--data", "hf:user/tiny-ds", "--steps", "2", "--out", out,
                            "--batch-size", "8", "--set", "g_width=8", "--set", "d_width=8", "--set", "latent_dim=8",
                            "--data-path", path, "--data-workers", "1", "--no-progress")
    assert code == 0, stdout + err
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["data"]["reading"]["path"] == path and cfg["data"]["num_images"] == 24
    assert cfg["data"]["class_names"] == CLASSES


def test_a_streamed_hub_spec_is_decoded_once_into_the_cache(hfhub, tmp_path, monkeypatch):
    from genzoo.data.pipeline import load_training_data  # here: with the lazy-data tests

    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path / "cache"))
    hfhub.add_dataset("user/tiny-ds", tiny_repo(tmp_path))
    ds = load_training_data("hf:user/tiny-ds?stream=10", path="cache", quiet=True)
    assert len(ds) == 10 and ds.reading["path"] == "cache"
    assert torch.equal(ds.images[3], load_dataset("hf:user/tiny-ds?stream=10").images[3])


def test_streamed_hub_data_lists_its_labels_without_decoding(hfhub, tmp_path):
    from genzoo.data.pipeline import load_training_data  # here: with the lazy-data tests

    hfhub.add_dataset("user/tiny-ds", tiny_repo(tmp_path))
    ds = load_training_data("hf:user/tiny-ds", path="stream", quiet=True)
    assert isinstance(ds.labels, torch.Tensor) and ds.labels.tolist() == [i % 3 for i in range(24)]
