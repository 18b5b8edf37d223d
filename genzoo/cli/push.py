"""`genzoo push RUN_DIR USER/MODEL`."""

from __future__ import annotations

import click

from genzoo.console import console, esc


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("repo_id", metavar="USER/MODEL")
@click.option("--private", is_flag=True, help="Create the repo as private (an existing repo keeps its visibility).")
@click.option("--revision", metavar="BRANCH", help="Push to this branch (created from main if needed).")
@click.option("--message", "-m", metavar="TEXT", help="Commit message.")
@click.option("--license", "license_", metavar="ID", help="Licence id for the model card (default: mit).")
def push(run_dir: str, repo_id: str, private: bool, revision: str | None, message: str | None,
         license_: str | None) -> None:
    """Upload RUN_DIR's model to the Hugging Face Hub as USER/MODEL, in one commit.

    \b
    Uploads config.json, model.safetensors, samples.png and a model card (README.md)
    rendered for USER/MODEL, then prints the repo's URL. Needs a write token:
    `hf auth login` or HF_TOKEN. HF_ENDPOINT selects another Hub.
    """
    from genzoo.hub import push as do_push  # here: imports torch (keeps `genzoo push --help` instant)

    result = do_push(run_dir, repo_id, private=private, revision=revision, message=message, license=license_)
    where = f" (branch {result.revision})" if result.revision else ""
    console.print(f"pushed {esc(run_dir)} -> [bold]{esc(repo_id)}[/]{esc(where)}, commit {result.commit[:8]}")
    click.echo(result.url)
