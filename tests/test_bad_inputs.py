"""Bad inputs through the real CLI: each one a clear one-line error, never a traceback.

The table grows with every command: a new command is not done until its bad inputs are rows here.
A row is (id, argv, expected message substring). ``{run}`` in an argument becomes the shared tiny
trained run (tests/conftest.py's ``tiny_run``), ``{tmp}`` a fresh temporary folder, and ``{NAME}`` for
any other session fixture NAME that returns a run directory (``{vae_run}``, ...). Rows live here and in
``tests/bad_inputs_*.py`` (one module per area, each with a list ``ROWS``): one table, gathered here,
so that work on different commands never edits the same lines. Each row runs
``python -m genzoo ARGV`` in its own process (forked from tests/cli_forkserver.py, which imports torch
once; GENZOO_TABLE_SUBPROCESS=1 starts each afresh instead), offline (the Hub endpoint is a closed port), and must
exit non-zero, print no traceback, name the problem, and print the user's text literally: brackets
in a path or a repo id are text, never rich markup.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REVISION_HINT = "is not a Hub revision"
NOT_A_SOURCE = "is not a run directory, an installed family, or a Hub repo id"

# (id, argv, expected substring). The substring should name what was wrong; where the input has
# brackets, include them, so the row also checks that they printed literally.
BAD_INPUTS: list[tuple[str, list[str], str]] = [
    # markup in user text: it must neither crash the error printer nor be rendered
    ("sample-path-closing-tag", ["sample", "/tmp/x[/]"], "'/tmp/x[/]' " + NOT_A_SOURCE),
    ("sample-path-link-markup", ["sample", "/tmp/[link=http://x]y[/link]"], "'/tmp/[link=http://x]y[/link]' "),
    ("sample-missing-run-dir-brackets", ["sample", "{tmp}/runs/dcgan-digit[s]"], "dcgan-digit[s]' " + NOT_A_SOURCE),
    ("sample-hub-repo-brackets", ["sample", "--from-hub", "[red]a[/]/b"], "'[red]a[/]/b' " + NOT_A_SOURCE),
    ("push-repo-brackets", ["push", "{run}", "[b]x[/]/y"], "'[b]x[/]/y' is not a Hub repo id"),
    ("push-missing-run-dir-brackets", ["push", "{tmp}/no[/]run", "user/model"], "no[/]run' not found"),
    ("info-family-brackets", ["info", "[red]nofam[/]"], "unknown family '[red]nofam[/]'"),
    ("train-family-brackets", ["train", "[red]x[/]"], "unknown family '[red]x[/]'"),
    # Hub revisions become cache paths: '..' and friends are refused before anything is read
    ("sample-revision-dotdot-in-name", ["sample", "alice/model@../../.."], "'../../..' " + REVISION_HINT),
    ("sample-revision-dotdot-option", ["sample", "--from-hub", "alice/model", "--revision", "../x"],
     "'../x' " + REVISION_HINT),
    ("sample-revision-absolute", ["sample", "--from-hub", "alice/model@/etc"], "'/etc' " + REVISION_HINT),
    ("push-revision-dotdot", ["push", "{run}", "user/model", "--revision", "../../x"], "'../../x' " + REVISION_HINT),
    ("sample-repo-id-dotdot", ["sample", "--from-hub", "alice/.."], "'alice/..' is not a Hub repo id"),
    # numbers and output paths of `genzoo sample`: refused before any sampling work
    ("sample-batch-size-zero", ["sample", "{run}", "--batch-size", "0"], "--batch-size must be at least 1, got 0"),
    ("sample-n-zero", ["sample", "{run}", "-n", "0"], "-n must be at least 1, got 0"),
    ("sample-n-beyond-memory", ["sample", "{run}", "-n", "100000000000", "--out", "{tmp}/g.png"],
     "-n 100000000000 needs about"),
    ("sample-unknown-opt", ["sample", "{run}", "--opt", "foo=1"], "sampler 'normal' takes no option 'foo'"),
    ("sample-truncation-nan", ["sample", "{run}", "--truncation", "nan"], "--truncation must be a finite number > 0"),
    ("sample-opt-truncation-text", ["sample", "{run}", "--sampler", "truncated-normal", "--opt", "truncation=abc"],
     "sampler 'truncated-normal' option 'truncation' must be a finite number, got 'abc'"),
    ("sample-opt-truncation-brackets", ["sample", "{run}", "--opt", "truncation=[red]1[/]", "--sampler",
                                        "truncated-normal"], "option 'truncation' must be a finite number, got '[red]1[/]'"),
    ("sample-out-under-a-file", ["sample", "{run}", "--out", "{run}/config.json/grid[1].png"],
     "config.json' is a file, not a folder"),
    ("sample-out-cannot-be-made", ["sample", "{run}", "-n", "2", "--out", "/proc/nope[/]/s.png"],
     "cannot write --out '/proc/nope[/]/s.png'"),
    # unknown names
    ("sample-unknown-family", ["sample", "dcgann"], "did you mean the family 'dcgan'"),
    ("info-unknown-family", ["info", "dcgann"], "unknown family 'dcgann'; did you mean 'dcgan'"),
    ("list-unknown-kind", ["list", "familes", "*"], "unknown kind 'familes'"),
    ("list-kind-typo-alone", ["list", "familes"], "did you mean the kind 'families'"),
    ("list-pattern-matches-nothing", ["list", "*zzz[*"], "no registered name matches '*zzz[*'"),
    ("plugins-extra-argument", ["plugins", "extra"], "unexpected extra argument"),
]


def _area_rows() -> list[tuple[str, list[str], str]]:
    rows: list[tuple[str, list[str], str]] = []
    for path in sorted(Path(__file__).parent.glob("bad_inputs_*.py")):
        rows += importlib.import_module(f"tests.{path.stem}").ROWS
    return rows


BAD_INPUTS += _area_rows()
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ, GENZOO_PROGRESS="0", HF_HOME=str(tmp / "hf-home"), HF_HUB_OFFLINE="1",
               HF_ENDPOINT="http://127.0.0.1:9", HF_HUB_DISABLE_TELEMETRY="1", COLUMNS="400")
    env.pop("GENZOO_DEBUG", None)  # it prints tracebacks on purpose
    env.pop("HF_TOKEN", None)
    return env


def run_cli(argv: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    """``python -m genzoo ARGV`` in a subprocess, offline, output captured (stdout + stderr)."""
    return subprocess.run([sys.executable, "-m", "genzoo", *argv], env=_env(tmp), cwd=tmp, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)


class _ForkServer:
    """tests/cli_forkserver.py: each row a forked ``genzoo.cli.main`` with torch imported once.

    Set GENZOO_TABLE_SUBPROCESS=1 to run every row as its own ``python -m genzoo`` instead (slower,
    the reference the fork server stands in for).
    """

    def __init__(self, home: Path) -> None:
        root = Path(__file__).resolve().parent.parent
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.cli_forkserver"], env=_env(home), cwd=root,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert json.loads(self.proc.stdout.readline()) == {"ready": True}

    def run(self, argv: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
        out = tmp / ".cli-output"
        self.proc.stdin.write(json.dumps({"argv": argv, "cwd": str(tmp), "out": str(out)}) + "\n")
        self.proc.stdin.flush()
        rc = json.loads(self.proc.stdout.readline())["rc"]
        text = out.read_text(errors="replace")
        out.unlink()
        return subprocess.CompletedProcess(argv, rc, text)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


@pytest.fixture(scope="session")
def genzoo_cli(tmp_path_factory):
    """Runs one CLI invocation like ``python -m genzoo ARGV`` (see _ForkServer)."""
    if os.environ.get("GENZOO_TABLE_SUBPROCESS") == "1":
        yield run_cli
        return
    server = _ForkServer(tmp_path_factory.mktemp("forkserver"))
    yield server.run
    server.close()


def _fill(argv: list[str], runs: dict[str, Path], tmp: Path) -> list[str]:
    return [_PLACEHOLDER.sub(lambda m: str(tmp if m[1] == "tmp" else runs[m[1]]), a) for a in argv]


def _runs_named(argv: list[str], request: pytest.FixtureRequest) -> dict[str, Path]:
    """The run fixtures an argv names, built on first use (a row on a vae builds no dcgan)."""
    names = {m for a in argv for m in _PLACEHOLDER.findall(a)} - {"tmp"}
    return {n: request.getfixturevalue("tiny_run" if n == "run" else n) for n in names}


def _mtimes(runs: dict[str, Path]) -> dict[Path, int]:
    # RUN/.lock is left out: a refused --resume takes the run's lock (it writes its PID there) before it reads
    return {p: p.stat().st_mtime_ns for run in runs.values() for p in run.rglob("*") if p.name != ".lock"}


@pytest.mark.parametrize("argv, expected", [pytest.param(a, e, id=i) for i, a, e in BAD_INPUTS])
def test_bad_input_is_one_clear_line(argv: list[str], expected: str, request: pytest.FixtureRequest,
                                     tmp_path: Path, genzoo_cli) -> None:
    runs = _runs_named(argv, request)
    argv = _fill(argv, runs, tmp_path)
    before = _mtimes(runs)
    r = genzoo_cli(argv, tmp_path)
    assert r.returncode != 0, r.stdout
    assert "Traceback" not in r.stdout, r.stdout
    lines = [ln for ln in r.stdout.splitlines() if expected in ln]
    assert lines, f"{expected!r} not in:\n{r.stdout}"
    # Printed literally: the message is one error line, brackets and all (no markup, no wrapping).
    assert lines[0].startswith(("error: ", "Error: ")), lines[0]
    assert _mtimes(runs) == before  # the shared runs are untouched


def test_table_ids_are_unique() -> None:
    ids = [i for i, _, _ in BAD_INPUTS]
    assert len(ids) == len(set(ids))


# Inputs that look odd but are right: they must work (exit 0), with the output they document.
def test_readme_list_pattern_lists_matching_names_across_kinds(tmp_path: Path) -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert "genzoo list" in readme and "'*gan*'" in readme  # the example this test stands for
    r = run_cli(["list", "*gan*"], tmp_path)
    assert r.returncode == 0, r.stdout
    names = {ln.split()[0] for ln in r.stdout.splitlines() if "│" in ln and ln.split()[0] != "│"}
    assert {"cgan", "cyclegan", "dcgan", "gan", "wgan", "wgan-gp"} <= names
    assert all("gan" in n for n in names), names  # the pattern filters
    assert "samplers" not in r.stdout  # a kind with no match prints no empty table


def test_list_kind_and_pattern_still_work(tmp_path: Path) -> None:
    r = run_cli(["list", "families", "*gan*"], tmp_path)
    assert r.returncode == 0 and "dcgan" in r.stdout and "diffusion" not in r.stdout, r.stdout


def test_brackets_in_a_run_directory_print_literally_while_training(tmp_path: Path) -> None:
    out = tmp_path / "o[/]x [link=http://x]y[/link]"
    r = run_cli(["train", "dcgan", "--data", "digits", "--steps", "1", "--out", str(out)], tmp_path)
    assert r.returncode == 0 and "Traceback" not in r.stdout, r.stdout
    assert f"-> {out}" in r.stdout and (out / "model.safetensors").is_file()


def test_a_typo_of_a_run_directory_says_so_before_the_hub(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()  # `runs/dcgan-digit` reads as a repo id too; the folder exists, the run does not
    r = run_cli(["sample", "runs/dcgan-digit"], tmp_path)
    assert r.returncode != 0 and "Traceback" not in r.stdout, r.stdout
    assert "error: no run directory 'runs/dcgan-digit'; as a Hub repo id it was not found either" in r.stdout
