"""Every code block in docs/plugins.md runs: the guide's plugin is built from it and used.

Blocks headed by a file name (a line like `genzoo_mygan/cli.py`: just before the block) are
written to that file of the plugin; the package is installed with pip into a --target
directory, as tests/test_third_party_plugin.py does; then, in a fresh Python that finds the
plugin through importlib.metadata, the other python blocks run in order in one namespace,
and the bash blocks' commands run one by one (their `pip install` line is the install above).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.test_third_party_plugin import _install

DOC = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"
FENCE = re.compile(r"(?:^`(?P<file>[\w./-]+)`:\n\n)?^```(?P<lang>\w*)\n(?P<body>.*?)^```$", re.M | re.S)

RUNNER = '''
import json, sys
from pathlib import Path

blocks = json.loads(Path(sys.argv[1]).read_text())
ns = {"__name__": "__docs__"}
for i, (lang, body) in enumerate(blocks):
    if lang == "python":
        print(f"--- python block {i}", flush=True)
        exec(compile(body, f"docs/plugins.md python block {i}", "exec"), ns)
    else:
        from genzoo.cli import main
        import shlex
        for line in body.splitlines():
            args = shlex.split(line, comments=True)
            if not args or args[0] == "pip":
                continue
            assert args[0] == "genzoo", line
            print(f"--- {line}", flush=True)
            try:
                main(args[1:])
            except SystemExit as e:
                if e.code:
                    raise SystemExit(f"'{line}' exited with {e.code}")
print("DOCS OK")
'''


def blocks() -> list[tuple[str | None, str, str]]:
    return [(m["file"], m["lang"], m["body"]) for m in FENCE.finditer(DOC.read_text())]


def test_every_block_is_a_file_or_runs():
    found = blocks()
    files = {f for f, _, _ in found if f}
    assert {"pyproject.toml", "genzoo_mygan/__init__.py", "genzoo_mygan/cli.py", "genzoo_mygan/card.md"} <= files
    for f, lang, body in found:
        # the directory sketch is the only block that is neither a file nor run
        assert f or lang in ("python", "bash") or body.lstrip().startswith("genzoo-mygan/"), body[:80]


def test_the_guide_builds_a_working_plugin(tmp_path):
    found = blocks()
    pkg = tmp_path / "genzoo-mygan"
    for f, _, body in found:
        if f:
            (pkg / f).parent.mkdir(parents=True, exist_ok=True)
            (pkg / f).write_text(body)
    site = tmp_path / "site"
    _install(pkg, site)
    runnable = [(lang, body) for f, lang, body in found if not f and lang in ("python", "bash")]
    assert any(lang == "bash" for lang, _ in runnable) and sum(lang == "python" for lang, _ in runnable) >= 3
    (tmp_path / "blocks.json").write_text(json.dumps(runnable))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           "GENZOO_PROGRESS": "0", "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    r = subprocess.run([sys.executable, "-c", RUNNER, str(tmp_path / "blocks.json")], capture_output=True, text=True,
                       env=env, cwd=tmp_path, timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "DOCS OK" in out, out[-4000:]
    # what the guide's comments promise
    rows = [" ".join(line.replace("│", " ").split()) for line in out.splitlines()]
    assert "a mygan model cannot inpaint; families that have it: diffusion" in rows
    assert "command realism genzoo-mygan 0.1.0 ok" in rows and "family mygan genzoo-mygan 0.1.0 ok" in rows
    assert any(r.startswith("capabilities:") and "JudgesRealism" in r for r in rows)
    assert sum(r.startswith("image ") and "realism" in r for r in rows) == 4
    assert any(r.startswith("JudgesRealism Says how real each image looks.") and r.endswith("mygan") for r in rows)
    assert "torch.Size([4, 1, 16, 16])" in out and "# mygan on digits" in rows
    card = (tmp_path / "runs" / "mygan" / "README.md").read_text()
    assert "An MLP GAN from the genzoo-mygan plugin, trained for 40 steps" in card
