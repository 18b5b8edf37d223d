"""The Hub for real: push, pull, cards, offline use and safe loading, against a local Hub server.

Every test talks to ``tests/hubserver.py`` on 127.0.0.1 through huggingface_hub's own client.
huggingface_hub read its settings when it was imported; the ``hub`` fixture points those
import-time defaults at a closed local port, so a request that genzoo forgets to route
through HF_ENDPOINT fails here (and never leaves the machine).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import genzoo
from genzoo.errors import GenzooError
from genzoo.family import PICKLE_SUFFIXES
from genzoo.hub import download, push
from tests.hubserver import HubServer, check_card_metadata, front_matter

REPO_FILES = [".gitattributes", "README.md", "config.json", "model.safetensors", "samples.png"]
EVALUATION = [
    {"metric": "fid", "value": 87.25, "name": "FID (Inception-v3 pool3)",
     "protocol": {"feature_extractor": "inception-v3-pool3", "num_samples": 1000, "reference": "digits test (297)"}},
    {"metric": "precision", "value": 0.5, "name": "precision", "protocol": "k=3, inception-v3-pool3, 1000 samples"},
]


def dead_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens (connections are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def hub(tmp_path, monkeypatch):
    from huggingface_hub import constants

    server = HubServer(tmp_path / "hub-data").start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_TOKEN", server.token)
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    dead = dead_url()
    monkeypatch.setattr(constants, "ENDPOINT", dead)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", dead + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "no-stored-tokens"))
    yield server
    server.stop()
    # Every route the client called exists on the server (a new client route would show here).
    assert server.unhandled == []


@pytest.fixture
def run_copy(tiny_run, tmp_path) -> Path:
    """A writable copy of the tiny trained run (model files only)."""
    dst = tmp_path / "run"
    shutil.copytree(tiny_run, dst, ignore=shutil.ignore_patterns("checkpoints", "samples", "log.jsonl"))
    return dst


def edit_config(run: Path, **changes) -> None:
    cfg = json.loads((run / "config.json").read_text())
    for k, v in changes.items():
        if k == "config":
            cfg["config"].update(v)
        else:
            cfg[k] = v
    (run / "config.json").write_text(json.dumps(cfg))


def one_line_error(fn, *args, **kwargs) -> str:
    with pytest.raises(GenzooError) as e:
        fn(*args, **kwargs)
    msg = str(e.value)
    assert "\n" not in msg and msg
    return msg


def npz_images(path: Path) -> np.ndarray:
    with np.load(path) as z:
        return z["images"]


# ------------------------------------------------------------------------------------------
# push
# ------------------------------------------------------------------------------------------
def test_push_uploads_the_four_files_in_one_commit_and_prints_the_url(hub, tiny_run, cli):
    readme_before = (tiny_run / "README.md").read_bytes()
    code, out, err = cli("push", tiny_run, "alice/tiny-dcgan", "--message", "first upload")
    assert code == 0, err
    assert out.strip() == f"{hub.url}/alice/tiny-dcgan"
    assert hub.file_list("alice/tiny-dcgan") == REPO_FILES
    commits = hub.commits("alice/tiny-dcgan")
    assert [c["message"] for c in commits] == ["initial commit", "first upload"]
    assert [r for r in hub.routes() if "/commit/" in r] == ["POST /api/models/alice/tiny-dcgan/commit/main"]
    for name in ("config.json", "model.safetensors", "samples.png"):
        assert hub.read_file("alice/tiny-dcgan", name) == (tiny_run / name).read_bytes()
    cfg = json.loads(hub.read_file("alice/tiny-dcgan", "config.json"))
    assert cfg["family"] == "dcgan" and cfg["genzoo_version"] == genzoo.__version__
    assert cfg["plugin"]["distribution"] == "genzoo-dcgan" and cfg["plugin"]["version"] not in ("", "unknown")
    readme = hub.read_file("alice/tiny-dcgan", "README.md").decode()
    # The card was re-rendered for the repo: its how-to names it, and no placeholder is left.
    assert "genzoo sample --from-hub alice/tiny-dcgan" in readme
    assert 'genzoo.load("alice/tiny-dcgan")' in readme
    assert "<user>" not in readme
    assert (tiny_run / "README.md").read_bytes() == readme_before  # the run itself is untouched
    # The Hub saw the metadata: model info reports the library and pipeline from the card.
    from huggingface_hub import HfApi

    info = HfApi(endpoint=hub.url).model_info("alice/tiny-dcgan")
    assert info.library_name == "genzoo" and info.pipeline_tag == "unconditional-image-generation"
    assert {"genzoo", "dcgan"} <= set(info.tags)


def test_pushed_card_parses_back_with_metrics_and_sample_image(hub, run_copy, tmp_path):
    from huggingface_hub import ModelCard

    edit_config(run_copy, evaluation=EVALUATION)
    result = push(run_copy, "alice/evaluated", license="cc-by-4.0")
    assert result.url == f"{hub.url}/alice/evaluated" and len(result.commit) == 40
    card_path = tmp_path / "README.md"
    card_path.write_bytes(hub.read_file("alice/evaluated", "README.md"))
    card = ModelCard.load(card_path)
    d = card.data
    assert d.library_name == "genzoo" and d.license == "cc-by-4.0"
    assert {"genzoo", "dcgan"} <= set(d.tags)
    assert d.pipeline_tag == "unconditional-image-generation"
    assert d.datasets == ["sklearn-digits"]
    assert d.model_name == "alice/evaluated"
    got = {r.metric_type: r for r in d.eval_results}
    assert got["fid"].metric_value == 87.25 and got["fid"].metric_name == "FID (Inception-v3 pool3)"
    assert got["fid"].metric_args == EVALUATION[0]["protocol"]
    assert got["fid"].task_type == "unconditional-image-generation" and got["fid"].dataset_name == "digits"
    assert got["precision"].metric_value == 0.5 and got["precision"].metric_config == EVALUATION[1]["protocol"]
    # The body shows the grid (a file of the repo) and the metrics with their protocol.
    assert "![samples](samples.png)" in card.text
    assert "samples.png" in hub.file_list("alice/evaluated")
    assert "| FID (Inception-v3 pool3) | 87.25 | feature_extractor: inception-v3-pool3, num_samples: 1000" in card.text
    # The run's facts are in the card.
    assert "| steps | 6 (96 images seen) |" in card.text and "| batch size | 16 |" in card.text
    assert '"g_width": 8' in card.text  # the full configuration


def test_push_to_a_branch_and_load_each_revision(hub, tiny_run, tmp_path, cli):
    assert push(tiny_run, "alice/multi").revision is None
    # A different model (same config, untrained weights) goes to the branch 'exp'.
    other = genzoo.load(str(tiny_run))
    torch.manual_seed(1)
    fresh = genzoo.create("dcgan", **other.config.to_dict())
    fresh.meta = dict(other.meta)
    fresh.save_pretrained(tmp_path / "other")
    code, out, err = cli("push", tmp_path / "other", "alice/multi", "--revision", "exp")
    assert code == 0, err
    assert out.strip() == f"{hub.url}/alice/multi/tree/exp"
    assert hub.file_list("alice/multi", "exp") == [".gitattributes", "README.md", "config.json", "model.safetensors",
                                                   "samples.png"]  # a grid was drawn for a run without one
    main = genzoo.load("alice/multi").sample(4, seed=0)
    exp_a = genzoo.load("alice/multi@exp").sample(4, seed=0)
    exp_b = genzoo.load("alice/multi", revision="exp").sample(4, seed=0)
    assert torch.equal(main, genzoo.load(str(tiny_run)).sample(4, seed=0))
    assert torch.equal(exp_a, exp_b) and torch.equal(exp_a, fresh.sample(4, seed=0))
    assert not torch.equal(main, exp_a)
    # A commit id works as a revision too.
    sha = hub.store.read("alice/multi")["branches"]["exp"]
    assert torch.equal(genzoo.load(f"alice/multi@{sha}").sample(4, seed=0), exp_a)


def test_push_refuses_bad_input_before_touching_the_hub(hub, run_copy, tmp_path, cli):
    msg = one_line_error(push, run_copy, "not a repo id")
    assert "not a Hub repo id" in msg
    msg = one_line_error(push, tmp_path / "nowhere", "alice/x")
    assert "not found" in msg
    edit_config(run_copy, config={"g_width": 16})
    msg = one_line_error(push, run_copy, "alice/x")
    assert "does not match the config" in msg
    assert hub.requests == []
    code, out, err = cli("push", run_copy, "alice/x")
    assert code == 1 and "error:" in err and "Traceback" not in err and out == ""


def test_push_needs_a_write_token_and_names_what_to_do(hub, tiny_run, monkeypatch, cli):
    monkeypatch.delenv("HF_TOKEN")
    code, out, err = cli("push", tiny_run, "alice/no-token")
    assert code == 1 and "HF_TOKEN" in err and "hf auth login" in err and "Traceback" not in err
    assert not hub.store.exists("alice/no-token")


def test_push_reports_a_card_the_hub_refuses(hub, tiny_run):
    msg = one_line_error(push, tiny_run, "alice/bad-card", license="not-a-licence")
    assert "refused the model card" in msg and "license" in msg
    assert hub.file_list("alice/bad-card") == [".gitattributes"]  # nothing was committed


def test_private_repo_needs_the_token_to_load(hub, tiny_run, monkeypatch):
    push(tiny_run, "alice/secret", private=True)
    assert hub.store.read("alice/secret")["private"] is True
    monkeypatch.delenv("HF_TOKEN")
    msg = one_line_error(genzoo.load, "alice/secret")
    assert "'alice/secret' not found" in msg and "HF_TOKEN" in msg
    monkeypatch.setenv("HF_TOKEN", hub.token)
    assert genzoo.load("alice/secret").family_name == "dcgan"


# ------------------------------------------------------------------------------------------
# pull: the round trip, the cache, offline use
# ------------------------------------------------------------------------------------------
def test_round_trip_push_pull_sample_then_offline_in_a_subprocess(hub, tiny_run, tmp_path, cli):
    push(tiny_run, "alice/round-trip")
    cache = Path(os.environ["HF_HOME"]) / "hub"
    shutil.rmtree(cache, ignore_errors=True)  # start from a clear cache

    code, _, err = cli("sample", tiny_run, "-n", 12, "--seed", 7, "--out", tmp_path / "local.npz")
    assert code == 0, err
    code, _, err = cli("sample", "--from-hub", "alice/round-trip", "-n", 12, "--seed", 7, "--out", tmp_path / "hub.npz")
    assert code == 0, err
    local = npz_images(tmp_path / "local.npz")
    assert local.shape == (12, 16, 16, 1)
    assert np.array_equal(npz_images(tmp_path / "hub.npz"), local)
    assert (cache / "models--alice--round-trip").is_dir()  # it went through the Hub cache (HF_HOME)
    from_hub = genzoo.load("alice/round-trip")
    assert from_hub.meta["repo_id"] == "alice/round-trip"
    assert torch.equal(from_hub.sample(12, seed=7), genzoo.load(str(tiny_run)).sample(12, seed=7))  # bit-identical

    # Offline: HF_HUB_OFFLINE is read when huggingface_hub is imported, so a fresh process;
    # the Hub is stopped too, so any request would fail.
    hub.stop()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_HOME=os.environ["HF_HOME"], HF_HUB_OFFLINE="1", HF_ENDPOINT=dead_url(), HF_HUB_DISABLE_TELEMETRY="1",
               HF_HUB_DISABLE_XET="1", GENZOO_PROGRESS="0")
    out = tmp_path / "offline.npz"
    # One process for both checks (starting Python + torch is the slow part): the CLI samples
    # the cached model, and a model never downloaded gives one clear line.
    script = (
        "import sys, genzoo\n"
        "from genzoo.cli import main\n"
        "try:\n"
        "    genzoo.load('alice/never-seen')\n"
        "except genzoo.GenzooError as e:\n"
        "    print('never-seen:', e)\n"
        "main(sys.argv[1:])\n"
    )
    r = subprocess.run([sys.executable, "-c", script, "sample", "--from-hub", "alice/round-trip", "-n", "12",
                        "--seed", "7", "--out", str(out)], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert np.array_equal(npz_images(out), local)
    assert "never-seen: Hub repo 'alice/never-seen' is not in the local Hub cache and HF_HUB_OFFLINE is set" in r.stdout


def test_second_load_uses_the_cache_without_downloading_again(hub, tiny_run):
    push(tiny_run, "alice/cached")
    first = download("alice/cached")
    gets = [r for r in hub.routes() if r.startswith("GET /alice/cached/resolve/")]
    assert len(gets) == 4  # config, weights, card, grid: nothing else (not .gitattributes)
    assert sorted(p.name for p in first.iterdir()) == ["README.md", "config.json", "model.safetensors", "samples.png"]
    n = len(hub.requests)
    assert download("alice/cached") == first
    assert not [r for r in hub.routes()[n:] if "/resolve/" in r]  # no file fetched twice


def test_network_unreachable_uses_the_cache_or_says_what_is_wrong(hub, tiny_run):
    push(tiny_run, "alice/cached")
    expected = genzoo.load("alice/cached").sample(4, seed=0)
    hub.stop()  # the network is gone
    assert torch.equal(genzoo.load("alice/cached").sample(4, seed=0), expected)
    msg = one_line_error(genzoo.load, "alice/never-downloaded")
    assert msg.startswith(f"cannot reach the Hub at {os.environ['HF_ENDPOINT']}")
    assert "'alice/never-downloaded' is not in the local cache" in msg


def test_offline_env_read_at_call_time_serves_branches_from_the_cache(hub, tiny_run, monkeypatch):
    push(tiny_run, "alice/offline", revision="v1")
    online = genzoo.load("alice/offline@v1").sample(3, seed=5)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    n = len(hub.requests)
    assert torch.equal(genzoo.load("alice/offline", revision="v1").sample(3, seed=5), online)
    assert len(hub.requests) == n  # not one request
    msg = one_line_error(genzoo.load, "alice/offline")  # main was never downloaded
    assert "not in the local Hub cache and HF_HUB_OFFLINE is set" in msg


# ------------------------------------------------------------------------------------------
# bad input: one clear line each
# ------------------------------------------------------------------------------------------
def test_repo_not_found(hub, cli):
    assert "Hub repo 'alice/missing' not found" in one_line_error(genzoo.load, "alice/missing")
    code, out, err = cli("sample", "--from-hub", "alice/missing", "-n", 1)
    assert code == 1 and "not found" in err and "Traceback" not in err


def test_revision_not_found(hub, tiny_run):
    push(tiny_run, "alice/revs")
    msg = one_line_error(genzoo.load, "alice/revs", revision="no-such-branch")
    assert msg == "revision 'no-such-branch' not found in Hub repo 'alice/revs'; check the branch, tag or commit"


def test_repo_without_config_json(hub, tiny_run):
    hub.add_files("bob/not-genzoo", {"README.md": "# a model\n", "model.safetensors": tiny_run / "model.safetensors"})
    msg = one_line_error(genzoo.load, "bob/not-genzoo")
    assert msg.startswith("Hub repo 'bob/not-genzoo' has no config.json; it is not a genzoo model")


def test_repo_without_weights(hub, tiny_run):
    hub.add_files("bob/no-weights", {"config.json": tiny_run / "config.json"})
    assert one_line_error(genzoo.load, "bob/no-weights") == "Hub repo 'bob/no-weights' has no model.safetensors"


def test_only_model_files_are_downloaded_and_no_code_is_run(hub, tiny_run, tmp_path):
    marker = tmp_path / "code-ran"
    evil = f"open({str(marker)!r}, 'w').write('pwned')\n"
    hub.add_files("bob/with-code", {"config.json": tiny_run / "config.json",
                                    "model.safetensors": tiny_run / "model.safetensors",
                                    "modeling_dcgan.py": evil, "__init__.py": evil, "setup.py": evil})
    local = download("bob/with-code")
    genzoo.load("bob/with-code").sample(2, seed=0)
    assert not marker.exists()
    assert not list(local.glob("*.py"))
    assert not [r for r in hub.routes() if r.endswith(".py")]
    import inspect

    assert "trust_remote_code" not in inspect.signature(genzoo.load).parameters


def test_unknown_family_names_the_package_to_install(hub, run_copy):
    edit_config(run_copy, family="stylegan9", plugin={"distribution": "genzoo-stylegan9", "version": "0.3.0"})
    hub.add_files("bob/exotic", {f: run_copy / f for f in ("config.json", "model.safetensors")})
    msg = one_line_error(genzoo.load, "bob/exotic")
    assert "'stylegan9' family, which is not installed" in msg and msg.endswith("pip install genzoo-stylegan9")


@pytest.mark.parametrize("name", ["pytorch_model.bin", "model.ckpt"])
def test_pickled_weights_only_are_refused_without_downloading_them(hub, run_copy, name):
    hub.add_files("bob/pickled", {"config.json": run_copy / "config.json", name: b"\x80\x04not really a pickle"})
    msg = one_line_error(genzoo.load, "bob/pickled")
    assert f"offers only pickled weights ({name})" in msg and "safetensors" in msg
    assert not [r for r in hub.routes() if r.endswith(name)]  # never fetched


def test_pickled_weights_only_in_a_run_dir(run_copy):
    (run_copy / "model.safetensors").rename(run_copy / "pytorch_model.pt")
    assert ".pt" in PICKLE_SUFFIXES
    assert "offers only pickled weights (pytorch_model.pt)" in one_line_error(genzoo.load, str(run_copy))


def test_repo_with_safetensors_and_pickles_loads_only_safetensors(hub, tiny_run):
    hub.add_files("bob/both", {"config.json": tiny_run / "config.json", "model.safetensors": tiny_run / "model.safetensors",
                               "pytorch_model.bin": b"\x80\x04evil"})
    assert torch.equal(genzoo.load("bob/both").sample(2, seed=0), genzoo.load(str(tiny_run)).sample(2, seed=0))
    assert not [r for r in hub.routes() if r.endswith(".bin")]


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_corrupted_safetensors(hub, tiny_run, damage):
    data = (tiny_run / "model.safetensors").read_bytes()
    bad = data[: len(data) // 2] if damage == "truncated" else b"\x00\x01not safetensors at all" * 10
    hub.add_files("bob/broken", {"config.json": tiny_run / "config.json", "model.safetensors": bad})
    msg = one_line_error(genzoo.load, "bob/broken")
    assert msg.startswith("the model.safetensors of Hub repo 'bob/broken' is corrupted or truncated")


def test_shape_mismatch_names_the_first_tensor(hub, run_copy):
    edit_config(run_copy, config={"g_width": 16})
    hub.add_files("bob/mismatch", {f: run_copy / f for f in ("config.json", "model.safetensors")})
    msg = one_line_error(genzoo.load, "bob/mismatch")
    assert msg.startswith("the model.safetensors of Hub repo 'bob/mismatch' does not match the config: 'generator.")
    assert "has shape" in msg and "the model expects" in msg


def test_missing_and_unexpected_tensors_are_refused(run_copy):
    from safetensors.torch import load_file, save_file

    state = load_file(run_copy / "model.safetensors")
    first = next(iter(state))
    save_file({k: v for k, v in state.items() if k != first}, run_copy / "model.safetensors")
    assert f"tensor '{first}' is missing" in one_line_error(genzoo.load, str(run_copy))
    save_file({**state, "extra.weight": torch.zeros(2)}, run_copy / "model.safetensors")
    assert "unexpected tensor 'extra.weight'" in one_line_error(genzoo.load, str(run_copy))


def test_config_from_a_newer_genzoo_with_unknown_keys(hub, run_copy):
    edit_config(run_copy, genzoo_version="99.1.0", config={"warp_drive": True, "flux_capacitor": 3})
    hub.add_files("bob/future", {f: run_copy / f for f in ("config.json", "model.safetensors")})
    msg = one_line_error(genzoo.load, "bob/future")
    assert "written by genzoo 99.1.0, newer than this genzoo" in msg
    assert "(flux_capacitor, warp_drive)" in msg and msg.endswith("upgrade: pip install -U genzoo")


def test_newer_genzoo_with_known_keys_loads(hub, run_copy, tiny_run):
    edit_config(run_copy, genzoo_version="99.1.0", something_new_at_top_level={"x": 1})
    hub.add_files("bob/future-ok", {f: run_copy / f for f in ("config.json", "model.safetensors")})
    assert torch.equal(genzoo.load("bob/future-ok").sample(2, seed=0), genzoo.load(str(tiny_run)).sample(2, seed=0))


def test_config_json_that_is_not_a_genzoo_config(hub, tiny_run):
    hub.add_files("bob/transformers", {"config.json": '{"architectures": ["BertModel"]}',
                                       "model.safetensors": tiny_run / "model.safetensors"})
    assert "is not a genzoo config" in one_line_error(genzoo.load, "bob/transformers")


def test_bad_revision_syntax_and_names(hub):
    assert "names no revision" in one_line_error(genzoo.load, "alice/model@")
    assert "two revisions given" in one_line_error(genzoo.load, "alice/model@a", revision="b")
    assert "not a run directory, an installed family, or a Hub repo id" in one_line_error(genzoo.load, "dcgann")
    assert hub.requests == []


@pytest.mark.parametrize("rev", ["../../..", "main/../../x", "/etc", "a\nb", "a b", "-x", "..", ".hidden", "a//b", "x/"])
def test_revision_that_is_not_a_branch_tag_or_commit_is_refused(hub, rev):
    msg = one_line_error(genzoo.load, "alice/model", revision=rev)
    assert "is not a Hub revision" in msg and repr(rev) in msg
    assert "is not a Hub revision" in one_line_error(download, "alice/model", revision=rev)
    assert hub.requests == []


def test_revision_with_dotdot_offline_never_reads_outside_the_cache(hub, tiny_run, monkeypatch):
    hub.add_files("alice/model", {f: tiny_run / f for f in ("config.json", "model.safetensors")})
    genzoo.load("alice/model")  # cached
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert "is not a Hub revision" in one_line_error(genzoo.load, "alice/model@../../..")


@pytest.mark.parametrize("repo", ["a/..", "a--b/c", "a/b..c", "[red]x[/]/y"])
def test_repo_ids_the_hub_would_refuse_are_refused_before_any_request(hub, repo):
    assert "is not a Hub repo id" in one_line_error(download, repo)
    assert hub.requests == []


@pytest.mark.parametrize("sha", ["../../../../tmp/evil", "not-a-sha", None])
def test_a_server_sending_a_bad_commit_id_is_named(hub, tiny_run, monkeypatch, sha):
    from tests import hubserver

    hub.add_files("alice/model", {f: tiny_run / f for f in ("config.json", "model.safetensors")})
    real = hubserver._Handler._json

    def bad_sha(self, status, obj, headers=None):  # type: ignore[no-untyped-def]
        if isinstance(obj, dict) and "sha" in obj and "siblings" in obj:
            obj = {**obj, "sha": sha}
        return real(self, status, obj, headers)

    monkeypatch.setattr(hubserver._Handler, "_json", bad_sha)
    msg = one_line_error(genzoo.load, "alice/model")
    assert "invalid commit id" in msg and repr(str(sha)) in msg and "None' not found" not in msg


@pytest.mark.parametrize("dist", ["x; rm -rf ~", "[link=http://evil]genzoo-ok[/link]", "-e git+http://evil", 3])
def test_an_invalid_plugin_distribution_is_never_suggested_to_pip(hub, run_copy, dist):
    edit_config(run_copy, family="stylegan9", plugin={"distribution": dist, "version": "0.3.0"})
    hub.add_files("bob/exotic", {f: run_copy / f for f in ("config.json", "model.safetensors")})
    msg = one_line_error(genzoo.load, "bob/exotic")
    assert "pip install" not in msg and "names no valid plugin distribution" in msg and "'stylegan9'" in msg


# ------------------------------------------------------------------------------------------
# cards
# ------------------------------------------------------------------------------------------
def test_family_card_template_and_default(tiny_run, tmp_path, monkeypatch):
    from genzoo.cards import render_card, template_dirs, template_text
    from genzoo.registry import families

    default = (template_dirs()[0] / "default.md").read_text()
    assert template_text("no-such-family") == default  # families without a template get the default
    assert template_text("dcgan") == (template_dirs()[0] / "dcgan.md").read_text()
    model = genzoo.load(str(tiny_run))
    fam = type(families.get("dcgan"))
    own = tmp_path / "my-card.md"
    own.write_text("---\n{{ card_data }}\n---\n\n# Mine: {{ family }} on {{ dataset }}, {{ steps }} steps\n")
    monkeypatch.setattr(fam, "card_template", own)  # a plugin shipping its own template (a path)
    assert "# Mine: dcgan on digits, 6 steps" in render_card(model)
    monkeypatch.setattr(fam, "card_template", "---\n{{ card_data }}\n---\nInline {{ repo_id }}\n")  # or the text
    assert "Inline <user>/<model>" in render_card(model)



BUILTIN_FAMILIES = ["cgan", "cvae", "dcgan", "diffusion", "gan", "pix2pix", "vae", "wgan", "wgan-gp"]


def test_builtin_card_templates_come_through_family_card_template(monkeypatch):
    """Built-ins name their template in cards/ as a plugin would ("package:resource");
    cards.py no longer looks a template up by the family's name."""
    from genzoo.cards import DEFAULT_TEMPLATE, read_template, template_dirs, template_text
    from genzoo.registry import families

    cards_dir = template_dirs()[0]
    for name in BUILTIN_FAMILIES:
        ref = families.get(name).card_template
        assert ref == f"genzoo.card_templates:{name}.md"
        assert template_text(name) == read_template(ref) == (cards_dir / f"{name}.md").read_text()
    monkeypatch.setattr(type(families.get("dcgan")), "card_template", None)
    assert (cards_dir / "dcgan.md").is_file()
    assert template_text("dcgan") == read_template(DEFAULT_TEMPLATE) == (cards_dir / "default.md").read_text()


def test_card_template_as_a_package_resource(tmp_path, monkeypatch):
    from genzoo.cards import read_template

    pkg = tmp_path / "genzoo_cardpkg_test"
    (pkg / "cards").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "cards" / "mine.md").write_text("---\n{{ card_data }}\n---\nMine\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert read_template("genzoo_cardpkg_test:cards/mine.md").endswith("Mine\n")
    with pytest.raises(GenzooError, match="names card template 'genzoo_cardpkg_test:nope.md', which its package"):
        read_template("genzoo_cardpkg_test:nope.md", "toy")
    with pytest.raises(GenzooError, match="which its package does not hold"):
        read_template("genzoo_no_such_pkg_xyz:card.md", "toy")


def test_pipeline_tag_comes_from_the_family(tiny_run, monkeypatch):
    from genzoo.cards import render_card
    from genzoo.registry import families

    model = genzoo.load(str(tiny_run))
    model.meta["evaluation"] = EVALUATION[:1]
    fam = type(families.get("dcgan"))
    monkeypatch.setattr(fam, "pipeline_tag", "image-to-image")
    text = render_card(model)
    meta = front_matter(text)
    assert meta["pipeline_tag"] == "image-to-image"
    assert meta["model-index"][0]["results"][0]["task"]["type"] == "image-to-image"
    assert check_card_metadata(meta) == []
    # The default template's how-to fits an image-to-image model: translate, not sample.
    monkeypatch.setattr(fam, "card_template", Path(__file__).resolve().parent.parent / "cards" / "default.md")
    text = render_card(model)
    assert "genzoo translate <user>/<model> input.png" in text and "model.translate(inputs)" in text
    assert "genzoo sample" not in text


def test_saved_card_without_a_repo_has_valid_metadata(tiny_run):
    meta = front_matter((tiny_run / "README.md").read_text())
    assert meta["library_name"] == "genzoo" and meta["license"] == "mit"
    assert "model_name" not in meta  # no placeholder repo in the metadata
    assert check_card_metadata(meta) == []
