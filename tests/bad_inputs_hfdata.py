"""Bad inputs of `--data hf:...` (Hub datasets; gathered by tests/test_bad_inputs.py, which runs offline)."""

ROWS: list[tuple[str, list[str], str]] = [
    ("hfdata-empty-name", ["train", "dcgan", "--data", "hf:", "--steps", "1", "--out", "{tmp}/r"],
     "hf: needs a dataset, e.g. --data hf:user/name"),
    ("hfdata-bad-revision", ["train", "dcgan", "--data", "hf:user/tiny-ds@../x", "--steps", "1", "--out", "{tmp}/r"],
     "'../x' is not a Hub revision"),
    ("hfdata-bare-name", ["train", "dcgan", "--data", "hf:tinyds", "--steps", "1", "--out", "{tmp}/r"],
     "'tinyds' is not a Hub dataset id; use hf:USER/NAME or an alias"),
    ("hfdata-bad-repo-id", ["train", "dcgan", "--data", "hf:user/../x", "--steps", "1", "--out", "{tmp}/r"],
     "is not a Hub repo id"),
    ("hfdata-unknown-option", ["train", "dcgan", "--data", "hf:user/ds?colour=red", "--steps", "1", "--out", "{tmp}/r"],
     "unknown hf: option 'colour'; use image=COLUMN, label=COLUMN (or none), stream=N"),
    ("hfdata-empty-option", ["train", "dcgan", "--data", "hf:user/ds?image=", "--steps", "1", "--out", "{tmp}/r"],
     "hf: option 'image=' has no value"),
    ("hfdata-bad-config", ["train", "dcgan", "--data", "hf:user/ds:a b", "--steps", "1", "--out", "{tmp}/r"],
     "'a b' is not a dataset config name"),
    ("hfdata-not-cached-offline", ["train", "dcgan", "--data", "hf:user/missing", "--steps", "1", "--out", "{tmp}/r"],
     "Hub dataset 'user/missing' is not in the local dataset cache and HF_HUB_OFFLINE is set"),
    ("hfdata-alias-offline", ["train", "dcgan", "--data", "cifar10", "--steps", "1", "--out", "{tmp}/r"],
     "Hub dataset 'uoft-cs/cifar10' is not in the local dataset cache and HF_HUB_OFFLINE is set"),
    ("hfdata-alias-with-arg", ["train", "dcgan", "--data", "mnist:x", "--steps", "1", "--out", "{tmp}/r"],
     "'mnist' takes no ':' argument"),
]
ROWS += [
    ("hfdata-stream-not-a-number", ["train", "dcgan", "--data", "hf:user/ds?stream=lots", "--steps", "1", "--out", "{tmp}/r"],
     "hf: option stream='lots' must be a positive number of images"),
    ("hfdata-stream-offline", ["train", "dcgan", "--data", "hf:user/ds?stream=100", "--steps", "1", "--out", "{tmp}/r"],
     "stream= reads Hub dataset 'user/ds' from the Hub as it trains, and HF_HUB_OFFLINE is set"),
]
