"""A fork server for the bad-input table: ``python -m genzoo`` without paying torch's import per row.

Every row of tests/test_bad_inputs.py used to start ``python -m genzoo`` afresh; on 2 cores the
imports (torch alone ~1.7 s of CPU) were most of the table's time. This process imports torch and the
CLI once, then forks one child per request. The child is a fresh process in every way that matters to
the table: its own cwd, its stdout and stderr at the file-descriptor level going to one file, stdin
closed, the real ``genzoo.cli.main`` entry point with ``python -m genzoo``'s exit semantics (an
uncaught exception prints its traceback and exits 1, so a traceback is still caught by the table).

Protocol, one JSON object per line: request ``{"argv": [...], "cwd": DIR, "out": FILE}`` on stdin,
answer ``{"rc": CODE}`` on stdout once the child has exited (killed after ``timeout`` seconds: rc 124).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time


def _child(argv: list[str], cwd: str, out: str) -> None:
    os.chdir(cwd)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    sys.argv = [sys.argv[0], *argv]
    code = 0
    try:
        from genzoo.cli import main  # already imported by the server: this is a dict lookup

        main(argv)
    except SystemExit as e:
        if e.code is None:
            code = 0
        elif isinstance(e.code, int):
            code = e.code
        else:  # sys.exit("text"): Python prints the text and exits 1
            print(e.code, file=sys.stderr)
            code = 1
    except BaseException:
        import traceback  # only on the failure path this server exists to catch

        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
    os._exit(code)


def _wait(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status) if status >= 0 else 1
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return 124
        time.sleep(0.005)


def serve(timeout: float = 300.0) -> None:
    import torch  # noqa: F401  the whole point: imported once, shared by every forked child
    import genzoo.cli  # noqa: F401  likewise

    proto_out = os.fdopen(os.dup(1), "w")
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # nothing the server imports may write into the protocol
    print(json.dumps({"ready": True}), file=proto_out, flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(req["argv"], req["cwd"], req["out"])
        rc = _wait(pid, timeout)
        print(json.dumps({"rc": rc}), file=proto_out, flush=True)


if __name__ == "__main__":
    serve()
