"""Bad inputs of `--data folder:PATH?...` (gathered by tests/test_bad_inputs.py). ``{folder_files}``:
tests/fixtures_folder.py's folder of images and label files."""

from __future__ import annotations

D = "{folder_files}/imgs"


def _train(spec: str) -> list[str]:
    return ["train", "dcgan", "--data", spec, "--steps", "1", "--out", "{tmp}/r"]


ROWS: list[tuple[str, list[str], str]] = [
    ("folder-unknown-option", _train(f"folder:{D}?colour=red"),
     "unknown folder option 'colour'; options are labels=FILE.csv|FILE.json, fit=crop|resize|pad"),
    ("folder-unknown-option-brackets", _train(f"folder:{D}?[red]x[/]=1"), "unknown folder option '[red]x[/]'"),
    ("folder-bad-fit", _train(f"folder:{D}?fit=stretch"), "unknown fit 'stretch' for folder:; use fit=crop"),
    ("folder-bad-background", _train(f"folder:{D}?fit=pad&background=grey"), "unknown background 'grey'"),
    ("folder-bad-depth", _train(f"folder:{D}?depth=two"), "depth='two' is not a whole number"),
    ("folder-depth-too-deep", _train(f"folder:{D}?depth=2"), "depth=2 takes the class from the folders 2 levels below"),
    ("folder-labels-and-depth", _train(f"folder:{D}?labels=missing.csv&depth=1"),
     "labels= and depth= are two ways to label the images; give one"),
    ("folder-labels-file-missing", _train(f"folder:{D}?labels=nope[1].csv"), "labels file 'nope[1].csv' does not exist"),
    ("folder-labels-not-csv-or-json", _train(f"folder:{D}?labels=a.png"), "must end in .csv (columns file,label) or .json"),
    ("folder-labels-name-a-missing-file", _train(f"folder:{D}?labels=missing.csv"),
     "labels file 'missing.csv' lists 1 files that are not in"),
    ("folder-image-not-listed", _train(f"folder:{D}?labels=partial.csv"),
     "are not in labels file 'partial.csv' (cats/c.png); add rows for them or move them out"),
    ("folder-labels-bad-row", _train(f"folder:{D}?labels=badrow.csv"),
     "labels file 'badrow.csv' line 2: expected 2 columns file,label, found 3"),
    ("folder-labels-no-header", _train(f"folder:{D}?labels=nohead.csv"),
     "must start with the header row 'file,label'"),
    ("folder-labels-json-not-an-object", _train(f"folder:{D}?labels=bad.json"),
     "must be a non-empty JSON object"),
    ("folder-depth-deep-tree", _train("folder:{folder_files}/deep?depth=3"),
     "depth=3 takes the class from the folders 3 levels below"),
]
