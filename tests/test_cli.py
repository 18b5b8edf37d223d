"""The command line: fast help, one-line errors, listings, training options."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import TINY_DCGAN, sets


def test_help_imports_neither_torch_nor_plugins():
    code = (
        "import sys\n"
        "from genzoo.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'genzoo_dcgan', 'timm') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out
    assert "train" in out and "sample" in out and "plugins" in out


def test_import_genzoo_is_light():
    out = subprocess.run([sys.executable, "-c", "import sys, genzoo; print('torch' in sys.modules)"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_unknown_family_is_one_line_with_suggestion(cli):
    code, out, err = cli("train", "dcgn")
    assert code == 1
    assert err.strip().startswith("error: unknown family 'dcgn'; did you mean 'dcgan'")
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2


def test_unknown_command_suggests(cli):
    code, _, err = cli("trian")
    assert code == 2 and "did you mean 'train'?" in err


def test_bad_set_key_lists_valid_keys(cli, tmp_path):
    code, _, err = cli("train", "dcgan", "--set", "widht=3", "--out", tmp_path / "x")
    assert code == 1 and "unknown --set key 'widht'" in err and "valid keys:" in err
    assert not (tmp_path / "x").exists()  # nothing written for bad input


def test_bad_max_time(cli, tmp_path):
    code, _, err = cli("train", "dcgan", "--max-time", "soon", "--out", tmp_path / "x")
    assert code == 1 and "cannot read duration 'soon'" in err


def test_missing_folder_data(cli, tmp_path):
    code, _, err = cli("train", "dcgan", "--data", f"folder:{tmp_path}/nope", "--out", tmp_path / "x")
    assert code == 1 and "does not exist" in err and "Traceback" not in err


def test_train_with_config_file_and_epochs(cli, tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({k: v for k, v in TINY_DCGAN.items() if k != "steps"}))
    code, _, err = cli("train", "dcgan", "--config", cfg, "--epochs", "0.05", "--out", tmp_path / "r", "--seed", "3")
    assert code == 0, err
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    # 0.05 epochs of 1500 digits at batch 16 -> ceil(4.69) = 5 steps
    assert saved["config"]["steps"] == 5 and saved["config"]["seed"] == 3
    assert saved["training"]["steps"] == 5
    assert "done" in err and str(tmp_path / "r") in err.replace("\n", "")


def test_train_resume_flag(cli, tmp_path):
    run = tmp_path / "r"
    code, _, err = cli("train", "dcgan", "--out", run, *sets({**TINY_DCGAN, "steps": 4}))
    assert code == 0, err
    code, out, err = cli("train", "dcgan", "--out", run, "--resume", "--steps", "6")
    assert code == 0, err
    assert json.loads((run / "config.json").read_text())["training"]["steps"] == 6
    batch = TINY_DCGAN["batch_size"]
    assert f"resuming from step 4 of 6 ({4 * batch} images seen)" in out + err  # says where it picks up


def test_list_info_plugins(cli):
    code, out, _ = cli("list", "families")
    assert code == 0 and "dcgan" in out and "genzoo-dcgan" in out
    code, out, _ = cli("list", "losses", "*-*")
    assert "non-saturating" in out and "least-squares" in out and "hinge" not in out
    code, out, _ = cli("list", "tasks", "s*")  # pix2pix's --task names
    assert code == 0 and "superres" in out and "colorize" not in out
    code, out, _ = cli("info", "dcgan")
    assert code == 0 and "g_width" in out and "latent_dim" in out and "--set key=value" in out
    code, out, _ = cli("plugins")
    assert code == 0 and "genzoo-dcgan" in out and "ok" in out


def test_piped_output_keeps_long_paths_on_one_line(tmp_path):
    """Into a file or a CI log, rich has no terminal width: a path must not be broken at column 80."""
    run = tmp_path / ("a" * 60) / ("b" * 60)
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env["GENZOO_PROGRESS"] = "0"
    r = subprocess.run([sys.executable, "-m", "genzoo", "train", "dcgan", "--out", str(run),
                        *sets({**TINY_DCGAN, "steps": 2})], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    done = [ln for ln in r.stderr.splitlines() if ln.startswith("done:")]
    assert done and f"-> {run} (samples: {run / 'samples.png'})" in done[0], r.stderr
