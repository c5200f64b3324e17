"""serve-hub --files: real files served like the Hub and its CDN (redirects, Range, digests, the tree API)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tracemalloc
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import HfApi, hf_hub_download

from ptmscope.hub.ratelimit import Budget
from ptmscope.hub.replay import LFS_SIZE, lfs_pointer
from ptmscope.hub.server import serve
from ptmscope.importer import import_paths
from ptmscope.store import Store
from ptmscope.store.rows import git_blob_id
from tests.replay import SMALL, faults, running_hub

SHA = "a" * 40
LISTING = [
    {"modelId": "org/files", "sha": SHA, "siblings": [{"rfilename": "README.md"}]},
    {
        "modelId": "org/listed",
        "sha": "b" * 40,
        "siblings": [
            {"rfilename": "README.md", "size": 5, "blobId": "c" * 40},
            {"rfilename": "w/model.bin", "size": 123, "blobId": "d" * 40, "lfs": {"sha256": "e" * 64, "size": 123}},
        ],
    },
    {"modelId": "org/many", "sha": "c" * 40, "siblings": []},
    {"modelId": "org/big", "sha": "d" * 40, "siblings": []},
    {"modelId": "solo", "sha": "e" * 40, "siblings": []},
    {"modelId": "solo/nested", "sha": "f" * 40, "siblings": []},
]
WEIGHTS = random.Random(7).randbytes(300_000)
CONFIG = b'{"model_type": "bert"}\n'


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hubfiles")
    listing = folder / "listing.jsonl"
    listing.write_text("\n".join(json.dumps(row) for row in LISTING))
    with Store(folder / "src.duckdb") as store:
        import_paths(store, [*SMALL, listing], "src", keep_files=True)
    return folder / "src.duckdb"


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A files folder: two repos of the snapshot in full, files over and under the LFS size, hostile entries."""
    top = tmp_path_factory.mktemp("files")
    root = top / "DIR"
    repo = root / "org" / "files"
    write(repo / "config.json", CONFIG)
    write(repo / "model.safetensors", WEIGHTS)
    write(repo / "big.dat", b"\x01" * (LFS_SIZE + 1))
    write(repo / "sub" / "notes.txt", b"notes\n")
    write(repo / "sub" / "run.sh", b"#!/bin/sh\necho hi\n").chmod(0o755)
    write(repo / "sub" / "deeper" / "x.txt", b"x\n")
    write(repo / ".git" / "config", b"[core]\n")
    (repo / "alias.json").symlink_to("config.json")  # inside the folder: served
    write(top / "outside" / "secret.bin", b"secret weights\n")
    (repo / "leak.bin").symlink_to(top / "outside" / "secret.bin")  # out of the folder: refused
    (repo / "up").symlink_to(top / "outside", target_is_directory=True)
    os.mkfifo(repo / "fifo")
    write(root / "org1" / "tc-a" / "config.json", CONFIG)  # its README.md stays the stored one
    write(root / "org1" / "tc-b" / "README.md", b"# from the files folder\n")
    for i in range(1_005):
        write(root / "org" / "many" / "f" / f"{i:04}.txt", b"%d\n" % i)
    write(root / "solo" / "model.bin", b"solo weights")
    write(root / "solo" / "nested" / "x.txt", b"belongs to solo/nested")
    return root


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_small_file_is_served_with_its_git_blob_id(db, files):
    with running_hub(db, files=files) as hub, httpx2.Client(base_url=hub.url) as client:
        config = client.get("/org/files/resolve/main/config.json")
        assert config.status_code == 200 and config.content == CONFIG
        assert config.headers["ETag"] == f'"{git_blob_id(CONFIG)}"'
        assert config.headers["Content-Length"] == str(len(CONFIG)) and config.headers["Accept-Ranges"] == "bytes"
        assert config.headers["X-Repo-Commit"] == SHA and config.headers["RateLimit"].startswith('"resolvers"')
        assert config.headers["Content-Type"] == "application/json; charset=utf-8"
        assert client.get(f"/org/files/resolve/{SHA}/sub/notes.txt").content == b"notes\n"
        assert client.get("/org/files/resolve/main/alias.json").content == CONFIG  # a symlink inside the folder
        part = client.get("/org/files/resolve/main/config.json", headers={"Range": "bytes=2-11"})
        assert part.status_code == 206 and part.content == CONFIG[2:12]
        assert part.headers["Content-Range"] == f"bytes 2-11/{len(CONFIG)}"
        head = client.head("/org/files/resolve/main/config.json")
        assert head.status_code == 200 and head.content == b"" and head.headers["Content-Length"] == str(len(CONFIG))
        # a stored README is still served when the folder lacks it; the folder's file wins over a stored one
        assert client.get("/org1/tc-a/resolve/main/README.md").text.startswith("---\nlicense: mit")
        assert client.get("/org1/tc-a/resolve/main/config.json").content == CONFIG
        assert client.get("/org1/tc-b/resolve/main/README.md").content == b"# from the files folder\n"
        missing = client.get("/org/files/resolve/main/nothing.txt")
        assert missing.status_code == 404 and missing.headers["X-Error-Code"] == "EntryNotFound"
        assert "not in the files folder of org/files" in missing.json()["error"]
        assert client.get("/org/files/resolve/main/.git/config").status_code == 404
        assert client.get("/org/files/resolve/nope/config.json").headers["X-Error-Code"] == "RevisionNotFound"


def test_a_weight_file_redirects_to_the_cdn_path(db, files):
    digest = sha256(WEIGHTS)
    with running_hub(db, files=files) as hub, httpx2.Client(base_url=hub.url) as client:
        for method in ("GET", "HEAD"):
            moved = client.request(method, "/org/files/resolve/main/model.safetensors")
            assert moved.status_code == 302 and moved.content == b""
            assert moved.headers["Location"] == f"{hub.url}/cdn-lfs/{digest}?repo=org%2Ffiles&path=model.safetensors"
            assert moved.headers["X-Linked-Size"] == str(len(WEIGHTS)) and moved.headers["Content-Length"] == "0"
            assert moved.headers["X-Linked-Etag"] == moved.headers["ETag"] == f'"{digest}"'
            assert moved.headers["X-Repo-Commit"] == SHA
        followed = client.get("/org/files/resolve/main/model.safetensors", follow_redirects=True)
        assert followed.status_code == 200 and followed.content == WEIGHTS
        assert followed.headers["Content-Type"] == "application/octet-stream"
        assert followed.headers["ETag"] == f'"{digest}"' and followed.headers["Accept-Ranges"] == "bytes"
        assert "RateLimit" not in followed.headers and hub.counts["cdn"] == 1
        big = client.get("/org/files/resolve/main/big.dat")  # no weight suffix, but over 10 MiB
        assert big.status_code == 302 and big.headers["X-Linked-Size"] == str(LFS_SIZE + 1)
        assert client.get("/solo/resolve/main/model.bin").status_code == 302  # a repo without an owner


def test_ranges_on_the_cdn_path(db, files):
    size, digest = len(WEIGHTS), sha256(WEIGHTS)
    cases = {
        "bytes=0-9": (206, 0, 9),
        "bytes=10-": (206, 10, size - 1),
        "bytes=-5": (206, size - 5, size - 1),
        "bytes=-999999999": (206, 0, size - 1),
        f"bytes={size - 3}-999999999": (206, size - 3, size - 1),
        "BYTES = 3-3": (206, 3, 3),
        "bytes=5-2": (200, 0, size - 1),  # invalid: ignored
        "bytes=abc": (200, 0, size - 1),
        "items=0-1": (200, 0, size - 1),
        "bytes=-": (200, 0, size - 1),
        "bytes=0-1,5-9": (200, 0, size - 1),  # several ranges: the whole file (documented choice)
    }
    with running_hub(db, files=files) as hub, httpx2.Client(base_url=hub.url) as client:
        url = f"/cdn-lfs/{digest}?repo=org/files&path=model.safetensors"
        for header, (status, first, last) in cases.items():
            answer = client.get(url, headers={"Range": header})
            assert answer.status_code == status and answer.content == WEIGHTS[first : last + 1], header
            assert answer.headers.get("Content-Range") == (f"bytes {first}-{last}/{size}" if status == 206 else None)
        for header in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}", "bytes=-0"):
            refused = client.get(url, headers={"Range": header})
            assert refused.status_code == 416 and refused.headers["Content-Range"] == f"bytes */{size}", header
        head = client.head(url, headers={"Range": "bytes=0-9"})
        assert head.status_code == 206 and head.headers["Content-Length"] == "10" and head.content == b""
        assert client.head(url).headers["Content-Length"] == str(size)
        assert client.get(url, headers={"If-None-Match": f'"{digest}"'}).status_code == 304
        stale = client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"something-else"'})
        assert stale.status_code == 200 and stale.content == WEIGHTS
        fresh = client.get(url, headers={"Range": "bytes=0-9", "If-Range": f'"{digest}"'})
        assert fresh.status_code == 206 and fresh.content == WEIGHTS[:10]


def test_the_cdn_path_serves_only_what_it_holds(db, files):
    digest = sha256(WEIGHTS)
    with running_hub(db, files=files) as hub, httpx2.Client(base_url=hub.url) as client:
        for bad in (
            f"/cdn-lfs/{'0' * 64}?repo=org/files&path=model.safetensors",  # wrong sha
            f"/cdn-lfs/{digest}?repo=org/files&path=config.json",  # a file with another sha
            f"/cdn-lfs/{digest}?repo=org/nobody&path=model.safetensors",  # not in the snapshot
            f"/cdn-lfs/{digest}?path=model.safetensors",
            f"/cdn-lfs/{digest}?repo=org/files",
            f"/cdn-lfs/{digest}?repo=org/files&path=sub/../model.safetensors",
            f"/cdn-lfs/{digest.upper()}?repo=org/files&path=model.safetensors",
        ):
            assert client.get(bad).status_code == 404, bad
        secret = sha256(b"secret weights\n")
        for path in ("leak.bin", "up/secret.bin", "../../outside/secret.bin", "..%2F..%2Foutside%2Fsecret.bin"):
            assert client.get(f"/cdn-lfs/{secret}?repo=org/files&path={path}").status_code == 404, path
        assert client.get(f"/cdn-lfs/{secret}?repo=..&path=outside/secret.bin").status_code == 404


def test_paths_that_leave_the_folder_are_refused(db, files):
    with running_hub(db, files=files) as hub, httpx2.Client(base_url=hub.url) as client:
        base = "/org/files/resolve/main/"
        for hostile in ("%2e%2e/%2e%2e/outside/secret.bin", "sub/%2e%2e/config.json", "a//b", "sub%5c..%5cconfig.json"):
            assert client.get(base + hostile).status_code == 400, hostile
        for hostile in (
            "..%2F..%2Foutside%2Fsecret.bin",  # one segment holding slashes, split again by the lookup
            "sub%2F..%2F..%2F..%2Foutside%2Fsecret.bin",
            "leak.bin",  # a symlink out of the folder
            "up/secret.bin",  # through a symlinked folder out of it
            "fifo",  # not a regular file
            "sub",  # a folder
            "nested/x.txt",
        ):
            assert client.get(base + hostile).status_code == 404, hostile
        assert client.get("/solo/resolve/main/nested/x.txt").status_code == 404  # solo/nested's, not solo's
        assert client.get("/solo/nested/resolve/main/x.txt").content == b"belongs to solo/nested"
        names = {s["rfilename"] for s in client.get("/api/models/org/files").json()["siblings"]}
        assert names == {"alias.json", "big.dat", "config.json", "model.safetensors", "sub/deeper/x.txt",
                         "sub/notes.txt", "sub/run.sh"}  # fmt: skip


def test_a_50_mb_file_streams_in_ranges_and_is_hashed_once(db, tmp_path):
    block = random.Random(3).randbytes(1 << 20)
    huge = write(tmp_path / "DIR" / "org" / "big" / "huge.bin", block * 50)
    whole = hashlib.sha256()
    for _ in range(50):
        whole.update(block)
    with running_hub(db, files=tmp_path / "DIR") as hub, httpx2.Client(base_url=hub.url) as client:
        location = client.head("/org/big/resolve/main/huge.bin").headers["Location"]
        assert location.split("?")[0].endswith(whole.hexdigest())
        tracemalloc.start()
        try:
            streamed = hashlib.sha256()
            with client.stream("GET", location) as answer:
                for chunk in answer.iter_bytes():
                    streamed.update(chunk)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert streamed.hexdigest() == whole.hexdigest() and peak < 16 * 1024**2  # never the 50 MB at once
        tail = client.get(location, headers={"Range": f"bytes={49 * (1 << 20)}-"})
        assert tail.status_code == 206 and tail.content == block
        middle = client.get(location, headers={"Range": "bytes=1048570-1048585"})
        assert middle.content == (block * 2)[1048570:1048586]
        assert client.head("/org/big/resolve/main/huge.bin").status_code == 302
        assert hub.files is not None and hub.files.hashed["sha256"] == 1  # six requests, one hash
        os.utime(huge, ns=(1, 1))  # the file changed (its mtime): hashed again
        client.head("/org/big/resolve/main/huge.bin")
        assert hub.files.hashed["sha256"] == 2


def test_hf_hub_download_follows_the_redirect(db, files, tmp_path, online):
    with running_hub(db, files=files) as hub:
        for name, data in (("model.safetensors", WEIGHTS), ("config.json", CONFIG), ("sub/notes.txt", b"notes\n")):
            path = hf_hub_download("org/files", name, endpoint=hub.url, token=False, cache_dir=tmp_path)
            assert Path(path).read_bytes() == data
            assert Path(path).parent.name == SHA or Path(path).parent.parent.name == SHA
        assert hub.counts["cdn"] >= 2  # the HEAD and the GET of the weights went to the CDN path


def test_siblings_list_the_folder(db, files, online):
    digest, pointer = sha256(WEIGHTS), lfs_pointer(sha256(WEIGHTS), len(WEIGHTS))
    with running_hub(db, files=files) as hub:
        api = HfApi(endpoint=hub.url, token=False)
        info = api.model_info("org/files", files_metadata=True)
        by_name = {s.rfilename: s for s in info.siblings}
        weights = by_name["model.safetensors"]
        assert weights.size == len(WEIGHTS) and weights.blob_id == git_blob_id(pointer)
        assert weights.lfs is not None and weights.lfs.sha256 == digest and weights.lfs.size == len(WEIGHTS)
        assert weights.lfs.pointer_size == len(pointer) == 131  # 134 for a file of 100 MB to 1 GB
        assert by_name["config.json"].blob_id == git_blob_id(CONFIG) and by_name["config.json"].lfs is None
        plain = httpx2.get(f"{hub.url}/api/models/org/files").json()["siblings"]
        assert {"rfilename": "config.json"} in plain and all(set(s) == {"rfilename"} for s in plain)
        expanded = httpx2.get(f"{hub.url}/api/models/org/files/revision/main?expand[]=siblings&blobs=true").json()
        assert set(expanded) == {"_id", "id", "modelId", "siblings"} and len(expanded["siblings"]) == 7
        assert [s.rfilename for s in api.model_info("solo").siblings] == ["model.bin"]
        listed = {s.rfilename: s for s in api.model_info("org/listed", files_metadata=True).siblings}
        assert listed["w/model.bin"].lfs.sha256 == "e" * 64  # no folder: the snapshot's file list, as before
        page = httpx2.get(f"{hub.url}/api/models?search=org/files&expand[]=siblings").json()
        assert [len(m["siblings"]) for m in page] == [7]


def test_the_tree_api(db, files, online):
    digest = sha256(WEIGHTS)
    with running_hub(db, files=files) as hub:
        api = HfApi(endpoint=hub.url, token=False)
        tree = {e.path: e for e in api.list_repo_tree("org/files", recursive=True)}
        assert sorted(tree) == ["alias.json", "big.dat", "config.json", "model.safetensors", "sub", "sub/deeper",
                                "sub/deeper/x.txt", "sub/notes.txt", "sub/run.sh"]  # fmt: skip
        weights = tree["model.safetensors"]
        assert weights.lfs.sha256 == digest and weights.lfs.size == weights.size == len(WEIGHTS)
        assert tree["config.json"].blob_id == git_blob_id(CONFIG) and tree["config.json"].lfs is None
        assert [e.path for e in api.list_repo_tree("org/files")] == [
            "alias.json", "big.dat", "config.json", "model.safetensors", "sub",
        ]  # fmt: skip
        assert [e.path for e in api.list_repo_tree("org/files", "sub")] == ["sub/deeper", "sub/notes.txt", "sub/run.sh"]
        assert [e.path for e in api.list_repo_tree("org/files", "sub/deeper", revision=SHA)] == ["sub/deeper/x.txt"]
        raw = httpx2.get(f"{hub.url}/api/models/org/files/tree/main?recursive=false").json()
        assert {"type": "directory", "oid": tree["sub"].tree_id, "size": 0, "path": "sub"} in raw
        assert raw[3]["lfs"] == {"oid": digest, "size": len(WEIGHTS), "pointerSize": 131}
        missing = httpx2.get(f"{hub.url}/api/models/org/files/tree/main/nothing")
        assert missing.status_code == 404 and missing.headers["X-Error-Code"] == "EntryNotFound"
        assert httpx2.get(f"{hub.url}/api/models/org/files/tree/nope").headers["X-Error-Code"] == "RevisionNotFound"
        infos = api.get_paths_info("org/files", ["config.json", "sub", "nothing", "model.safetensors"])
        assert [(type(i).__name__, i.path) for i in infos] == [
            ("RepoFile", "config.json"), ("RepoFolder", "sub"), ("RepoFile", "model.safetensors"),
        ]  # fmt: skip
        assert infos[2].lfs.sha256 == digest
        # without a folder: the snapshot's file list (no folder ids: the snapshot has none)
        listed = httpx2.get(f"{hub.url}/api/models/org/listed/tree/main?recursive=true").json()
        assert listed == [
            {"type": "file", "oid": "c" * 40, "size": 5, "path": "README.md"},
            {"type": "directory", "oid": None, "size": 0, "path": "w"},
            {"type": "file", "oid": "d" * 40, "size": 123, "path": "w/model.bin",
             "lfs": {"oid": "e" * 64, "size": 123, "pointerSize": 128}},
        ]  # fmt: skip
        assert [e.path for e in api.list_repo_tree("solo", recursive=True)] == ["model.bin"]
        assert hub.counts["api"] >= 10 and not hub.counts["resolvers"]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_folder_ids_are_git_tree_ids(db, files, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(files / "org" / "files" / "sub", repo)
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(tmp_path)}
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, env=env)
    expected = subprocess.run(
        ["git", "-C", str(repo), "write-tree"], check=True, env=env, capture_output=True, text=True
    )
    with running_hub(db, files=files) as hub:
        root = httpx2.get(f"{hub.url}/api/models/org/files/tree/main").json()
    assert next(e["oid"] for e in root if e["path"] == "sub") == expected.stdout.strip()


def test_the_tree_pages_follow_link_headers(db, files, online):
    with running_hub(db, files=files) as hub:
        first = httpx2.get(f"{hub.url}/api/models/org/many/tree/main?recursive=true")
        assert len(first.json()) == 1_000 and "cursor=" in first.links["next"]["url"]
        second = httpx2.get(first.links["next"]["url"])
        assert len(second.json()) == 6 and "next" not in second.links
        paths = [e.path for e in HfApi(endpoint=hub.url, token=False).list_repo_tree("org/many", recursive=True)]
        assert len(paths) == 1_006 == len(set(paths)) and paths[:2] == ["f", "f/0000.txt"]


def test_the_cdn_bucket_is_never_limited_but_takes_faults(db, files):
    digest = sha256(WEIGHTS)
    cdn = f"/cdn-lfs/{digest}?repo=org/files&path=model.safetensors"
    with running_hub(db, files=files, rate_limits={"resolvers": Budget("resolvers", 1, 60)}) as hub:
        with httpx2.Client(base_url=hub.url) as client:
            assert client.get("/org/files/resolve/main/model.safetensors").status_code == 302
            assert client.get("/org/files/resolve/main/model.safetensors").status_code == 429
            answers = [client.get(cdn) for _ in range(5)]
        assert [a.status_code for a in answers] == [200] * 5 and all("RateLimit" not in a.headers for a in answers)
        assert hub.counts["cdn"] == 5 and hub.counts["cdn:200"] == 5 and "cdn" not in hub.windows
        hub.faults = faults("500=1.0")  # the plan is read per request: one server for every kind
        assert httpx2.get(hub.url + cdn).status_code == 500 and hub.faults.injected["500"] == 1
        hub.faults = faults("429=1.0")
        assert httpx2.get(hub.url + cdn).status_code == 429
        hub.faults = faults("badjson=1.0")
        corrupted = httpx2.get(hub.url + cdn)  # corrupted bytes under the right ETag and length
        assert corrupted.status_code == 200 and corrupted.headers["ETag"] == f'"{digest}"'
        assert len(corrupted.content) == len(WEIGHTS) and corrupted.content != WEIGHTS
        hub.faults = faults("drop=1.0")
        with pytest.raises(httpx2.RemoteProtocolError):
            httpx2.get(hub.url + cdn)
        hub.faults = faults("slow=1.0")
        assert httpx2.get(hub.url + cdn).content == WEIGHTS and hub.faults.injected["slow"] == 1


def test_the_files_option(db, files, tmp_path):
    with pytest.raises(ValueError, match="not a folder"):
        serve(db, None, files=tmp_path / "nothing")
    env = {**os.environ, "HF_HUB_OFFLINE": "0"}
    process = subprocess.Popen(
        [sys.executable, "-m", "ptmscope", "serve-hub", "--db", str(db), "--port", "0", "--files", str(files)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        url = process.stdout.readline().strip()
        assert httpx2.get(f"{url}/org/files/resolve/main/config.json").content == CONFIG
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert f"Files served from {files}: 6 repos of the snapshot have a folder there" in " ".join(err.split())
    missing = subprocess.run(
        [sys.executable, "-m", "ptmscope", "serve-hub", "--db", str(db), "--files", str(tmp_path / "nothing")],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert missing.returncode == 2 and "--files" in missing.stderr
