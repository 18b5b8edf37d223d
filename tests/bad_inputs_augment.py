"""Bad inputs of `genzoo augment` and `genzoo sample --as-folder` (gathered by tests/test_bad_inputs.py)."""

from __future__ import annotations

NOT_A_SOURCE = "is not a run directory, an installed family, or a Hub repo id"

ROWS: list[tuple[str, list[str], str]] = [
    # genzoo augment: numbers refused before anything is loaded
    ("augment-real-zero", ["augment", "{tiny_cgan_run}", "--real", "0"], "--real must be at least 1, got 0"),
    ("augment-synthetic-negative", ["augment", "{tiny_cgan_run}", "--synthetic", "-5"], "--synthetic must be at least 1, got -5"),
    ("augment-seeds-zero", ["augment", "{tiny_cgan_run}", "--seeds", "0"], "--seeds must be at least 1, got 0"),
    ("augment-steps-zero", ["augment", "{tiny_cgan_run}", "--steps", "0"], "--steps must be at least 1, got 0"),
    ("augment-batch-size-zero", ["augment", "{tiny_cgan_run}", "--batch-size", "0"],
     "--batch-size must be at least 1, got 0"),
    ("augment-no-run", ["augment"], "Missing argument 'RUNS...'"),
    ("augment-missing-run-brackets", ["augment", "{tmp}/no[/]run"], "no[/]run' " + NOT_A_SOURCE),
    ("augment-json-under-a-file", ["augment", "{tiny_cgan_run}", "--json", "{tiny_cgan_run}/config.json/a[1].json"],
     "--json '"),
    # what the model or the data cannot do
    ("augment-unconditional-model", ["augment", "{run}", "--real", "10", "--synthetic", "10"],
     "needs a class-conditional model"),
    ("augment-real-beyond-the-data", ["augment", "{tiny_cgan_run}", "--real", "999999", "--synthetic", "10"],
     "--real 999999 is more than the 1500 training images of 'digits'"),
    ("augment-unknown-data", ["augment", "{tiny_cgan_run}", "--data", "digitz", "--real", "10", "--synthetic", "10"],
     "'digitz'"),
    # genzoo sample --as-folder
    ("sample-as-folder-unconditional", ["sample", "{run}", "-n", "10", "--out", "{tmp}/x/", "--as-folder"],
     "--as-folder needs a class-conditional model"),
    ("sample-as-folder-one-label", ["sample", "{tiny_cgan_run}", "--label", "3", "--out", "{tmp}/x", "--as-folder"],
     "--as-folder writes every class; drop --label '3'"),
    ("sample-as-folder-not-empty", ["sample", "{tiny_cgan_run}", "--out", "{run}", "--as-folder"],
     "already exists and is not empty"),
    ("sample-as-folder-png", ["sample", "{tiny_cgan_run}", "--out", "{tmp}/g[1].png", "--as-folder"],
     "g[1].png': --as-folder writes a folder"),
    ("sample-as-folder-fewer-than-classes", ["sample", "{tiny_cgan_run}", "-n", "5", "--out", "{tmp}/x",
                                             "--as-folder"], "-n 5 is fewer than one image per class (10 classes)"),
    ("sample-as-folder-trajectory", ["sample", "{tiny_cgan_run}", "--out", "{tmp}/x", "--as-folder",
                                     "--trajectory", "{tmp}/t.png"], "--as-folder writes images only"),
]
