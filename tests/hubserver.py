"""A small Hugging Face Hub stand-in on 127.0.0.1, for driving huggingface_hub's real client.

It implements the routes huggingface_hub (2.x) calls for what genzoo does, as observed by
logging the client's requests:

    POST /api/repos/create                         create a model repo (409 if it exists)
    POST /api/validate-yaml                        check a README's YAML front matter
    POST /api/models/{repo}/branch/{branch}        create a branch
    POST /api/models/{repo}/preupload/{rev}        say how each file is uploaded (always "regular")
    POST /api/models/{repo}/commit/{rev}           the NDJSON commit (header + base64 files)
    GET  /api/models/{repo}[/revision/{rev}]       model info: sha, siblings, card data
    GET  /api/models/{repo}/tree/{rev}[/{path}]    the file tree
    HEAD/GET /{repo}/resolve/{rev}/{path}          file content, with X-Repo-Commit and ETag

Dataset repos (read-only; ``add_dataset``), for the ``datasets`` library:

    GET  /api/datasets/{repo}[/revision/{rev}]     dataset info: sha, siblings
    GET  /api/datasets/{repo}/tree/{rev}[/{path}]  the file tree
    HEAD/GET /datasets/{repo}/resolve/{rev}/{path} file content (also what streaming reads)

Every file is answered as a regular (non-LFS, non-Xet) file, so no large-file protocol is
needed. Errors carry the ``X-Error-Code`` header the client maps to its exception types
(RepoNotFound, RevisionNotFound, EntryNotFound). Repos live in a folder: ``repos/<ns>/<name>.json``
holds branches and commits, ``blobs/<sha256>`` the contents. Writes and private repos need
``Authorization: Bearer <token>`` with ``HubServer.token``.

Usage::

    with HubServer(tmp_path / "hub") as hub:
        os.environ["HF_ENDPOINT"] = hub.url
        ...
        hub.requests  # [(method, path, status), ...]
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

TOKEN = "hf_genzoo_test_token"
#: Dataset repos live in the store under this prefix ("datasets/NS/NAME"), apart from model repos.
DATASETS = "datasets"
# Licence ids the real Hub accepts include these (a subset is enough here).
LICENSES = {"mit", "apache-2.0", "bsd-3-clause", "cc-by-4.0", "cc-by-sa-4.0", "cc-by-nc-4.0", "cc0-1.0",
            "openrail", "other", "unknown"}


class HubError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, **extra: Any):
        super().__init__(message)
        self.status, self.message, self.code, self.extra = status, message, code, extra


def git_blob_oid(data: bytes) -> str:
    """The git object id of a file, which the Hub reports as a regular file's oid and ETag."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def front_matter(text: str) -> dict[str, Any] | None:
    """The YAML between the leading '---' lines of a README, or None if it has none."""
    import yaml

    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    try:
        end = next(i for i, line in enumerate(lines[1:], 1) if line.strip() == "---")
    except StopIteration:
        raise HubError(400, "unterminated YAML front matter") from None
    try:
        data = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as e:
        raise HubError(400, f"invalid YAML: {e}") from None
    if data is not None and not isinstance(data, dict):
        raise HubError(400, "YAML metadata must be a mapping")
    return data or {}


def check_card_metadata(meta: dict[str, Any]) -> list[str]:
    """The checks the Hub makes on model-card metadata that a generator's card can fail."""
    errors = []
    lic = meta.get("license")
    if lic is not None and lic not in LICENSES:
        errors.append(f'"license" must be a known licence id, got "{lic}"')
    for key in ("tags", "datasets"):
        if key in meta and not (isinstance(meta[key], list) and all(isinstance(t, str) for t in meta[key])):
            errors.append(f'"{key}" must be a list of strings')
    if "pipeline_tag" in meta and not isinstance(meta["pipeline_tag"], str):
        errors.append('"pipeline_tag" must be a string')
    index = meta.get("model-index")
    if index is not None:
        if not isinstance(index, list):
            return errors + ['"model-index" must be a list']
        for m in index:
            if not isinstance(m, dict) or not isinstance(m.get("name"), str):
                errors.append('"model-index[].name" must be a string')
                continue
            for r in m.get("results", []):
                task, ds = r.get("task") or {}, r.get("dataset") or {}
                if not isinstance(task.get("type"), str):
                    errors.append('"model-index[].results[].task.type" is required')
                if not (isinstance(ds.get("name"), str) and isinstance(ds.get("type"), str)):
                    errors.append('"model-index[].results[].dataset" needs "name" and "type"')
                metrics = r.get("metrics")
                if not metrics:
                    errors.append('"model-index[].results[].metrics" must not be empty')
                for mt in metrics or []:
                    if not isinstance(mt.get("type"), str) or "value" not in mt:
                        errors.append('"model-index[].results[].metrics[]" needs "type" and "value"')
    return errors


class Store:
    """Repos, branches and commits in a folder (content-addressed blobs)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        (self.root / "repos").mkdir(parents=True, exist_ok=True)
        (self.root / "blobs").mkdir(exist_ok=True)
        self.lock = threading.RLock()
        self.counter = 0

    # -- repos -------------------------------------------------------------------------------
    def _file(self, repo_id: str) -> Path:
        return self.root / "repos" / f"{repo_id}.json"

    def exists(self, repo_id: str) -> bool:
        return self._file(repo_id).is_file()

    def read(self, repo_id: str) -> dict[str, Any]:
        f = self._file(repo_id)
        if not f.is_file():
            raise HubError(404, "Repository not found", "RepoNotFound")
        return json.loads(f.read_text())

    def write(self, repo_id: str, repo: dict[str, Any]) -> None:
        f = self._file(repo_id)
        f.parent.mkdir(parents=True, exist_ok=True)
        tmp = f.with_suffix(".tmp")
        tmp.write_text(json.dumps(repo))
        tmp.replace(f)

    def create(self, repo_id: str, private: bool = False) -> None:
        with self.lock:
            if self.exists(repo_id):
                raise HubError(409, "You already created this model repo")
            repo = {"private": private, "branches": {}, "commits": {}}
            # Like the real Hub, a new repo starts with one commit holding .gitattributes.
            sha = self._new_commit(repo, None, "initial commit", {".gitattributes": b"*.safetensors filter=lfs\n"})
            repo["branches"]["main"] = sha
            self.write(repo_id, repo)

    # -- contents ----------------------------------------------------------------------------
    def put_blob(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        p = self.root / "blobs" / digest
        if not p.exists():
            p.write_bytes(data)
        return digest

    def blob(self, digest: str) -> bytes:
        return (self.root / "blobs" / digest).read_bytes()

    def _new_commit(self, repo: dict[str, Any], parent: str | None, message: str,
                    add: dict[str, bytes], delete: list[str] = ()) -> str:
        files = dict(repo["commits"][parent]["files"]) if parent else {}
        for path in delete:
            for f in [f for f in files if f == path or f.startswith(path.rstrip("/") + "/")]:
                del files[f]
        for path, data in add.items():
            files[path] = {"blob": self.put_blob(data), "oid": git_blob_oid(data), "size": len(data)}
        self.counter += 1
        sha = hashlib.sha1(json.dumps([parent, message, files, self.counter, time.time()]).encode()).hexdigest()
        repo["commits"][sha] = {"parent": parent, "message": message, "files": files, "time": time.time()}
        return sha

    def commit(self, repo_id: str, branch: str, message: str, add: dict[str, bytes],
               delete: list[str] = (), parent: str | None = None) -> str:
        with self.lock:
            repo = self.read(repo_id)
            if branch not in repo["branches"]:
                raise HubError(404, f"Invalid rev id: {branch}", "RevisionNotFound")
            head = repo["branches"][branch]
            if parent and not head.startswith(parent):
                raise HubError(412, f"A commit has happened since: {parent} is not the head of {branch}")
            sha = self._new_commit(repo, head, message, add, delete)
            repo["branches"][branch] = sha
            self.write(repo_id, repo)
            return sha

    def create_branch(self, repo_id: str, branch: str, start: str | None) -> None:
        with self.lock:
            repo = self.read(repo_id)
            if branch in repo["branches"]:
                raise HubError(409, f"Reference already exists: {branch}")
            repo["branches"][branch] = self.resolve(repo, start or "main")
            self.write(repo_id, repo)

    @staticmethod
    def resolve(repo: dict[str, Any], rev: str) -> str:
        if rev in repo["branches"]:
            return repo["branches"][rev]
        if len(rev) == 40 and rev in repo["commits"]:
            return rev
        raise HubError(404, f"Invalid rev id: {rev}", "RevisionNotFound")

    def files(self, repo_id: str, rev: str) -> tuple[str, dict[str, dict[str, Any]]]:
        repo = self.read(repo_id)
        sha = self.resolve(repo, rev)
        return sha, repo["commits"][sha]["files"]


class HubServer:
    """A Hub-compatible HTTP server on 127.0.0.1 (a random free port), backed by ``root``."""

    token = TOKEN

    def __init__(self, root: str | Path):
        self.store = Store(Path(root))
        self.requests: list[tuple[str, str, int]] = []
        self.unhandled: list[tuple[str, str]] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HubServer:
        server = self

        class Handler(_Handler):
            hub = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
            self._httpd = None

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- helpers for tests: put repos in place without going through the client ---------------
    def add_files(self, repo_id: str, files: dict[str, bytes | str | Path], *, branch: str = "main",
                  private: bool = False, message: str = "add files") -> str:
        """Create ``repo_id`` if needed and commit ``files`` (path in repo -> bytes, text or a local file)."""
        if not self.store.exists(repo_id):
            self.store.create(repo_id, private=private)
        data = {}
        for k, v in files.items():
            data[k] = v.read_bytes() if isinstance(v, Path) else v.encode() if isinstance(v, str) else v
        return self.store.commit(repo_id, branch, message, data)

    def add_dataset(self, repo_id: str, files: dict[str, bytes | str | Path], **kw: Any) -> str:
        """Like add_files, for a dataset repo (served under /api/datasets/ and /datasets/)."""
        return self.add_files(f"{DATASETS}/{repo_id}", files, **kw)

    def file_list(self, repo_id: str, rev: str = "main") -> list[str]:
        return sorted(self.store.files(repo_id, rev)[1])

    def read_file(self, repo_id: str, path: str, rev: str = "main") -> bytes:
        return self.store.blob(self.store.files(repo_id, rev)[1][path]["blob"])

    def commits(self, repo_id: str) -> list[dict[str, Any]]:
        """The commits of a repo, oldest first."""
        return sorted(self.store.read(repo_id)["commits"].values(), key=lambda c: c["time"])

    def routes(self) -> list[str]:
        """'METHOD /path' of each request so far, with repo ids and revisions as placeholders."""
        return [f"{m} {p}" for m, p, _ in self.requests]


class _Handler(BaseHTTPRequestHandler):
    hub: HubServer
    # One request per connection: when the server stops, no kept-alive connection lingers
    # that a stopped "Hub" would still answer on.
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt: str, *args: Any) -> None:  # quiet: the log lives in hub.requests
        pass

    # -- plumbing ------------------------------------------------------------------------------
    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              content_type: str = "application/json", head: bool = False) -> None:
        self.hub.requests.append((self.command, urlsplit(self.path).path, status))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if body and not head and self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), headers)

    def _authorised(self) -> bool:
        return self.headers.get("Authorization", "") == f"Bearer {self.hub.token}"

    def _need_auth(self) -> None:
        if not self._authorised():
            raise HubError(401, "Invalid username or password.")

    def _repo(self, repo_id: str) -> dict[str, Any]:
        repo = self.hub.store.read(repo_id)
        if repo["private"] and not self._authorised():
            # The Hub hides private repos from strangers: same answer as a missing one.
            raise HubError(401, "Repository not found", "RepoNotFound")
        return repo

    def _dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        # Split before unquoting: revisions arrive quoted (a branch 'a/b' is 'a%2Fb').
        parts = [unquote(p) for p in split.path.strip("/").split("/")]
        body = self._body() if method in ("POST", "PUT") else b""
        try:
            self._route(method, parts, query, body)
        except HubError as e:
            headers = {"X-Error-Message": e.message}
            if e.code:
                headers["X-Error-Code"] = e.code
            self._json(e.status, {"error": e.message, **e.extra}, headers)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- routes --------------------------------------------------------------------------------
    def _route(self, method: str, p: list[str], q: dict[str, str], body: bytes) -> None:
        store = self.hub.store
        if method == "POST" and p == ["api", "repos", "create"]:
            return self._create_repo(json.loads(body or b"{}"))
        if method == "GET" and p == ["api", "agent-harnesses"]:  # the client's user-agent registry
            return self._json(200, {"standardEnvVars": [], "harnesses": {}})
        if method == "POST" and p == ["api", "validate-yaml"]:
            return self._validate_yaml(json.loads(body or b"{}"))
        if len(p) >= 4 and p[:2] == ["api", "models"]:
            repo_id, rest = f"{p[2]}/{p[3]}", p[4:]
            if method == "GET" and not rest:
                return self._model_info(repo_id, "main")
            if method == "GET" and len(rest) == 2 and rest[0] == "revision":
                return self._model_info(repo_id, rest[1])
            if method == "GET" and len(rest) >= 2 and rest[0] == "tree":
                return self._tree(repo_id, rest[1], "/".join(rest[2:]), q.get("recursive") in ("1", "true", "True"))
            if method == "POST" and len(rest) == 2 and rest[0] == "preupload":
                return self._preupload(repo_id, rest[1], json.loads(body or b"{}"))
            if method == "POST" and len(rest) == 2 and rest[0] == "commit":
                return self._commit(repo_id, rest[1], body, q)
            if method == "POST" and len(rest) == 2 and rest[0] == "branch":
                self._need_auth()
                self._repo(repo_id)
                store.create_branch(repo_id, rest[1], json.loads(body or b"{}").get("startingPoint"))
                return self._json(200, {})
        if len(p) >= 4 and p[:2] == ["api", "datasets"]:
            # Dataset repos (read-only here): stored under the key "datasets/NS/NAME".
            repo_id, rest = f"{DATASETS}/{p[2]}/{p[3]}", p[4:]
            if method == "GET" and not rest:
                return self._dataset_info(repo_id, "main")
            if method == "GET" and len(rest) == 2 and rest[0] == "revision":
                return self._dataset_info(repo_id, rest[1])
            if method == "GET" and len(rest) >= 2 and rest[0] == "tree":
                return self._tree(repo_id, rest[1], "/".join(rest[2:]), q.get("recursive") in ("1", "true", "True"))
        if method in ("GET", "HEAD") and len(p) >= 6 and p[0] == DATASETS and p[3] == "resolve":
            return self._resolve(f"{DATASETS}/{p[1]}/{p[2]}", p[4], "/".join(p[5:]), head=method == "HEAD")
        if method in ("GET", "HEAD") and len(p) >= 5 and p[2] == "resolve":
            return self._resolve(f"{p[0]}/{p[1]}", p[3], "/".join(p[4:]), head=method == "HEAD")
        self.hub.unhandled.append((method, self.path))
        raise HubError(404, f"genzoo's test Hub does not implement {method} {self.path}")

    def _create_repo(self, payload: dict[str, Any]) -> None:
        self._need_auth()
        if payload.get("type", "model") != "model":
            raise HubError(400, "only model repos are supported here")
        name, org = payload.get("name"), payload.get("organization")
        if not name or not org:
            raise HubError(400, "repo id must be namespace/name")
        repo_id = f"{org}/{name}"
        private = payload.get("visibility") == "private" or bool(payload.get("private"))
        try:
            self.hub.store.create(repo_id, private=private)
        except HubError as e:  # the Hub names the existing repo's URL in its 409 answer
            e.extra["url"] = f"{self._base()}/{repo_id}"
            raise
        self._json(200, {"url": f"{self._base()}/{repo_id}", "name": repo_id, "id": repo_id})

    def _validate_yaml(self, payload: dict[str, Any]) -> None:
        meta = front_matter(payload.get("content", ""))
        if not meta:
            return self._json(200, {"warnings": [{"message": "empty or missing yaml metadata in repo card"}]})
        errors = check_card_metadata(meta)
        if errors:
            return self._json(400, {"errors": [{"message": m} for m in errors]})
        self._json(200, {"warnings": []})

    def _model_info(self, repo_id: str, rev: str) -> None:
        repo = self._repo(repo_id)
        sha = self.hub.store.resolve(repo, rev)
        files = repo["commits"][sha]["files"]
        info: dict[str, Any] = {
            "id": repo_id, "modelId": repo_id, "author": repo_id.split("/")[0], "sha": sha,
            "private": repo["private"], "disabled": False, "gated": False, "downloads": 0, "likes": 0,
            "lastModified": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(repo["commits"][sha]["time"])),
            "siblings": [{"rfilename": f} for f in sorted(files)], "tags": [],
        }
        if "README.md" in files:
            # What the Hub shows about a model comes from its card's metadata.
            card = front_matter(self.hub.store.blob(files["README.md"]["blob"]).decode()) or {}
            info["cardData"] = card
            info["tags"] = list(card.get("tags", []))
            for key in ("library_name", "pipeline_tag", "model-index"):
                if key in card:
                    info[key] = card[key]
        self._json(200, info)

    def _dataset_info(self, key: str, rev: str) -> None:
        repo = self._repo(key)
        sha = self.hub.store.resolve(repo, rev)
        files = repo["commits"][sha]["files"]
        repo_id = key.removeprefix(DATASETS + "/")
        info: dict[str, Any] = {
            "id": repo_id, "author": repo_id.split("/")[0], "sha": sha, "private": repo["private"],
            "disabled": False, "gated": False, "downloads": 0, "likes": 0, "tags": [],
            "lastModified": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(repo["commits"][sha]["time"])),
            "siblings": [{"rfilename": f} for f in sorted(files)],
        }
        if "README.md" in files:
            info["cardData"] = front_matter(self.hub.store.blob(files["README.md"]["blob"]).decode()) or {}
        self._json(200, info)

    def _tree(self, repo_id: str, rev: str, path: str, recursive: bool) -> None:
        repo = self._repo(repo_id)
        sha = self.hub.store.resolve(repo, rev)
        files = repo["commits"][sha]["files"]
        prefix = path.rstrip("/") + "/" if path else ""
        under = {f: v for f, v in files.items() if f.startswith(prefix)}
        if path and not under:
            raise HubError(404, f"{path} does not exist on {rev}", "EntryNotFound")
        out, dirs = [], set()
        for f in sorted(under):
            rel = f[len(prefix):]
            if not recursive and "/" in rel:
                dirs.add(prefix + rel.split("/")[0])
                continue
            if recursive:
                parts = rel.split("/")[:-1]
                dirs.update(prefix + "/".join(parts[: i + 1]) for i in range(len(parts)))
            out.append({"type": "file", "oid": files[f]["oid"], "size": files[f]["size"], "path": f})
        out += [{"type": "directory", "oid": hashlib.sha1(d.encode()).hexdigest(), "size": 0, "path": d}
                for d in sorted(dirs)]
        self._json(200, out)

    def _preupload(self, repo_id: str, rev: str, payload: dict[str, Any]) -> None:
        self._need_auth()
        repo = self._repo(repo_id)
        if rev not in repo["branches"]:
            raise HubError(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        files = repo["commits"][repo["branches"][rev]]["files"]
        answer = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                   "oid": files.get(f["path"], {}).get("oid")} for f in payload.get("files", [])]
        self._json(200, {"files": answer, "commitOid": repo["branches"][rev]})

    def _commit(self, repo_id: str, rev: str, body: bytes, q: dict[str, str]) -> None:
        self._need_auth()
        self._repo(repo_id)
        if q.get("create_pr"):
            raise HubError(400, "pull requests are not supported by this test server")
        header: dict[str, Any] = {}
        add: dict[str, bytes] = {}
        delete: list[str] = []
        for line in body.splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                header = value
            elif key == "file":
                if value.get("encoding") != "base64":
                    raise HubError(400, "file content must be base64")
                add[value["path"]] = base64.b64decode(value["content"])
            elif key in ("deletedFile", "deletedFolder"):
                delete.append(value["path"])
            else:  # lfsFile / copies: never offered by our preupload answer
                raise HubError(400, f"unsupported commit operation '{key}' (this server takes regular files only)")
        if not header.get("summary"):
            raise HubError(400, "commit summary is required")
        sha = self.hub.store.commit(repo_id, rev, header["summary"], add, delete, header.get("parentCommit"))
        self._json(200, {"success": True, "commitOid": sha, "commitUrl": f"{self._base()}/{repo_id}/commit/{sha}",
                         "pullRequestUrl": None})

    def _base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def _resolve(self, repo_id: str, rev: str, path: str, head: bool) -> None:
        repo = self._repo(repo_id)
        sha = self.hub.store.resolve(repo, rev)
        entry = repo["commits"][sha]["files"].get(path)
        if entry is None:
            raise HubError(404, f"{path} does not exist on {rev}", "EntryNotFound")
        data = self.hub.store.blob(entry["blob"])
        headers = {"X-Repo-Commit": sha, "ETag": f'"{entry["oid"]}"', "Accept-Ranges": "bytes"}
        status = 200
        rng = self.headers.get("Range", "")
        if rng.startswith("bytes=") and not head:
            start_s, _, end_s = rng[6:].partition("-")
            start = int(start_s or 0)
            end = int(end_s) if end_s else len(data) - 1
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            data, status = data[start : end + 1], 206
        if head:
            # HEAD: the size of the body a GET would send, without sending it.
            self.hub.requests.append((self.command, urlsplit(self.path).path, status))
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            return
        self._send(status, data, headers, content_type="application/octet-stream")
