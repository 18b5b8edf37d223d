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
