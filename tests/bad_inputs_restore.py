"""Bad inputs of `genzoo restore` (gathered by tests/test_bad_inputs.py)."""

from __future__ import annotations

ROWS: list[tuple[str, list[str], str]] = [
    ("restore-not-a-restorer", ["restore", "{run}", "--data", "digits", "--task", "superres", "--out", "{tmp}/g.png"],
     "a dcgan model cannot restore degraded images; use a model of a family that can: diffusion"),
    ("restore-nonlinear-task", ["restore", "{restore_run}", "--data", "digits", "--task", "edges", "--out", "{tmp}/g.png"],
     "task edges is not a linear degradation, so it cannot be restored"),
    ("restore-unknown-task", ["restore", "{restore_run}", "--data", "digits", "--task", "[b]blur[/b]", "--out", "{tmp}/g.png"],
     "unknown task '[b]blur[/b]'"),
    ("restore-no-input", ["restore", "{restore_run}", "--task", "superres"], "give an IMAGE file or --data DATASET, exactly one"),
    ("restore-out-not-png", ["restore", "{restore_run}", "--data", "digits", "--task", "deblur", "--out", "{tmp}/g[1].jpg"],
     "g[1].jpg': the result is written as a .png file"),
    ("restore-deblur-too-wide", ["restore", "{restore_run}", "--data", "digits", "--task", "deblur:9", "--out", "{tmp}/g.png"],
     "deblur blur std must be in [0.3, 4] pixels, got 9.0"),
    ("restore-superres-bad-factor", ["restore", "{restore_run}", "--data", "digits", "--task", "superres:3", "--out", "{tmp}/g.png"],
     "superres factor must be 2 or 4"),
    ("restore-colorize-gray-model", ["restore", "{restore_run}", "--data", "digits", "--task", "colorize", "--out", "{tmp}/g.png"],
     "task colorize needs RGB images but the data is grayscale"),
    ("restore-mask-not-inpaint", ["restore", "{restore_run}", "{tmp}/x.png", "--task", "deblur", "--mask", "{tmp}/m.png"],
     "--mask is for --task inpaint"),
    ("restore-inpaint-file-needs-mask", ["restore", "{restore_run}", "{restore_run}/samples.png", "--task", "inpaint"],
     "--task inpaint on a file needs --mask MASK.png"),
    ("restore-metrics-without-originals", ["restore", "{restore_run}", "{restore_run}/samples.png", "--task", "deblur",
                                           "--metrics", "--out", "{tmp}/r.png"], "--metrics needs originals"),
    ("restore-missing-image", ["restore", "{restore_run}", "{tmp}/no[pe].png", "--task", "deblur", "--out", "{tmp}/r.png"],
     "no[pe].png' not found"),
    ("restore-steps-zero", ["restore", "{restore_run}", "--data", "digits", "--task", "deblur", "--steps", "0"],
     "--steps must be at least 1, got 0"),
]
