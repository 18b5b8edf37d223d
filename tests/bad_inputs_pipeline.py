"""Bad inputs of how data is read (#17: --memory-limit, --data-path, --data-workers); gathered by
tests/test_bad_inputs.py. A damaged disk cache is not an error (it is rebuilt with a note):
tests/test_pipeline.py covers it."""

ROWS: list[tuple[str, list[str], str]] = [
    ("pipeline-limit-not-a-size", ["train", "dcgan", "--memory-limit", "abc", "--steps", "1", "--out", "{tmp}/r"],
     "--memory-limit 'abc' is not a size; give a positive size such as 8GB"),
    ("pipeline-limit-negative", ["train", "dcgan", "--memory-limit", "-1GB", "--steps", "1", "--out", "{tmp}/r"],
     "--memory-limit '-1GB' is not a size"),
    ("pipeline-limit-zero", ["train", "dcgan", "--memory-limit", "0MB", "--steps", "1", "--out", "{tmp}/r"],
     "--memory-limit '0MB' must be larger than zero"),
    ("pipeline-limit-unknown-unit", ["train", "dcgan", "--memory-limit", "8[red]XB[/]", "--steps", "1", "--out", "{tmp}/r"],
     "--memory-limit '8[red]XB[/]' is not a size"),
    ("pipeline-unknown-data-path", ["train", "dcgan", "--data-path", "fastest", "--steps", "1", "--out", "{tmp}/r"],
     "'fastest' is not one of 'auto', 'memory', 'cache', 'stream'"),
    ("pipeline-negative-workers", ["train", "dcgan", "--data-workers", "-1", "--steps", "1", "--out", "{tmp}/r"],
     "--data-workers must be"),
]
ROWS += [
    ("pipeline-bench-sizes-not-numbers", ["bench", "--data-loading", "--sizes", "big"], "--sizes takes comma-separated image sides"),
    ("pipeline-bench-sizes-too-small", ["bench", "--data-loading", "--sizes", "2"], "--sizes needs image sides from 4 to 1024"),
    ("pipeline-bench-path-auto", ["bench", "--data-loading", "--data-paths", "auto"], "--data-paths takes some of memory"),
    ("pipeline-bench-path-unknown", ["bench", "--data-loading", "--data-paths", "memory,disk"], "unknown --data-path 'disk'"),
    ("pipeline-bench-two-families", ["bench", "--data-loading", "dcgan", "vae"], "give one FAMILY"),
    ("pipeline-bench-limit", ["bench", "--data-loading", "--memory-limit", "lots"], "--memory-limit 'lots' is not a size"),
    ("pipeline-synthetic-bad-spec", ["train", "dcgan", "--data", "synthetic:many", "--steps", "1", "--out", "{tmp}/r"],
     "synthetic: takes N[xSIZE][:gray]"),
    ("pipeline-synthetic-too-large", ["train", "dcgan", "--data", "synthetic:10x2", "--steps", "1", "--out", "{tmp}/r"],
     "synthetic: needs 1 to"),
]
