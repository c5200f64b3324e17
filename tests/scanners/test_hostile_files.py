"""Files that attack the scanner itself (issue 12): padding past the size limit, memo bombs,
files truncated mid-scan, FIFOs and devices, links in zips.

Nothing here is ever loaded: payloads are built with ``pickle.dumps`` of ``Reduce`` objects or
by hand, written to tmp_path, and read as bytes.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import stat
import subprocess
import sys
import tarfile
import textwrap
import threading
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from ptmscope.cli.main import cli
from ptmscope.scanners.api import scan_file
from ptmscope.scanners.context import PickleContext
from ptmscope.scanners.interface import ScannedFile, ScanOptions, SkippedFile
from ptmscope.scanners.pickle import analyze_pickle

from .conftest import Reduce, scan_bytes

EVIL = pickle.dumps(Reduce(os.system, "id"), protocol=2)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["scan", "--no-progress", *args])
    return result.exit_code, result.stdout, result.stderr


def rules(findings: list) -> set[str]:
    return {f.rule for f in findings}


# --- case 1: a file skipped by --max-file-size is not a pass -----------------------------------


@pytest.fixture
def padded(tmp_path: Path) -> Path:
    """A malicious pickle padded past a 1 KiB limit (the padding is data after STOP)."""
    path = tmp_path / "padded.pkl"
    path.write_bytes(EVIL + b"\x00" * 4096)
    return path


def test_a_file_over_the_size_limit_fails_the_run_unless_accepted(padded: Path):
    code, out, err = run(str(padded), "--max-file-size", "1K")
    assert code == 1
    assert "UNPARSEABLE" in out and "not scanned: larger than --max-file-size" in out and "--skipped ok" in out
    assert "1 unparseable (1 not scanned)" in err
    # the gate holds whatever --fail-on says: nobody vouched for the file
    assert run(str(padded), "--max-file-size", "1K", "--fail-on", "dangerous")[0] == 1
    code, out, err = run(str(padded), "--max-file-size", "1K", "--skipped", "ok")
    assert code == 0 and "SKIPPED" in out and "accepted" in err
    assert run(str(padded))[0] == 1  # scanned without the limit: dangerous


def test_an_unscanned_file_is_in_the_json_and_sarif_reports(padded: Path):
    code, out, _ = run(str(padded), "--max-file-size", "1K", "--format", "json")
    data = json.loads(out)
    (entry,) = data["files"]
    assert code == 1 and entry["status"] == "skipped" and entry["verdict"] == "unparseable" and entry["fails_run"]
    assert data["summary"]["unscanned"] == 1 and data["summary"]["unscanned_fail_the_run"] is True
    code, out, _ = run(str(padded), "--max-file-size", "1K", "--format", "sarif")
    sarif = json.loads(out)["runs"][0]
    (result,) = sarif["results"]
    assert code == 1 and result["ruleId"] == "file-not-scanned" and result["level"] == "warning"
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("padded.pkl")
    assert [r["id"] for r in sarif["tool"]["driver"]["rules"]] == ["file-not-scanned"]
    _, out, _ = run(str(padded), "--max-file-size", "1K", "--format", "sarif", "--skipped", "ok")
    assert json.loads(out)["runs"][0]["results"] == []


def test_the_library_marks_the_file_unscanned(padded: Path):
    result = scan_file(padded, ScanOptions(max_file_size=1024))
    assert isinstance(result, SkippedFile) and result.unscanned and not result.error
    assert result.verdict == "unparseable"


# --- case 2: links in zips ----------------------------------------------------------------------


def zip_with(members: list[tuple[str, bytes, int]], method: int = zipfile.ZIP_STORED) -> bytes:
    """A zip whose members carry Unix modes (``S_IFLNK`` for a symbolic link, as Info-ZIP writes it)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data, mode in members:
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = mode << 16
            info.compress_type = method
            z.writestr(info, data)
    return buf.getvalue()


LINK = stat.S_IFLNK | 0o777
FILE = stat.S_IFREG | 0o644


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2])
@pytest.mark.parametrize("target", ["../../etc/passwd", "/etc/passwd", "a/../../../x", "../..", "C:\\Windows\\win.ini"])
def test_zip_symlinks_out_of_the_archive_are_dangerous(method: int, target: str):
    data = zip_with([("model/config", target.encode(), LINK), ("model/w.pkl", pickle.dumps([1]), FILE)], method)
    _, findings = scan_bytes(data, "m.zip")
    (escape,) = [f for f in findings if f.rule == "archive-link-escape"]
    assert escape.severity == "dangerous" and escape.member == "model/config" and escape.evidence == target


def test_zip_links_inside_the_archive_and_plain_files_are_not_flagged():
    data = zip_with([("a/link", b"../b/file", LINK), ("b/file", b"hello", FILE), ("c", b"../x", FILE)])
    _, findings = scan_bytes(data, "m.zip")
    assert not {"archive-link-escape", "archive-special-file"} & rules(findings)


def test_a_zip_link_member_is_still_scanned_as_data():
    """zipfile-based loaders ignore the mode and read a 'link' member's bytes as its content."""
    data = zip_with([("archive/data.pkl", EVIL, LINK)])
    _, findings = scan_bytes(data, "m.zip")
    assert "pickle-dangerous-import" in rules(findings)


def test_zip_devices_and_fifos_are_special_files():
    data = zip_with([("dev", b"", stat.S_IFCHR | 0o600), ("pipe", b"", stat.S_IFIFO | 0o600)])
    _, findings = scan_bytes(data, "m.zip")
    assert sorted(f.member for f in findings if f.rule == "archive-special-file") == ["dev", "pipe"]


def test_zip_member_names_that_escape_are_flagged():
    data = zip_with([("../../evil.pkl", b"x", FILE), ("/abs.pkl", b"x", FILE)])
    _, findings = scan_bytes(data, "m.zip")
    assert sorted(f.evidence for f in findings if f.rule == "archive-path-traversal") == ["../../evil.pkl", "/abs.pkl"]


def test_tar_hard_links_resolve_from_the_root_and_dotted_names_are_names():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, kind, target in [
            ("a/b/hard", tarfile.LNKTYPE, "../x"),  # a hard link's target is relative to the root: escapes
            ("a/b/soft", tarfile.SYMTYPE, "../x"),  # a symbolic link's is relative to a/b: stays inside
            ("a/dots", tarfile.SYMTYPE, "..hidden"),  # a name that starts with two dots
        ]:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, target
            tar.addfile(info)
    _, findings = scan_bytes(buf.getvalue(), "m.tar")
    assert [f.member for f in findings if f.rule == "archive-link-escape"] == ["a/b/hard"]


def test_link_escapes():
    from ptmscope.scanners.archives import link_escapes

    assert link_escapes("x", "../a") and link_escapes("d/x", "../../a") and link_escapes("x", "/etc")
    assert not link_escapes("d/x", "../a") and not link_escapes("x", "..a") and not link_escapes("x", "./a/../b")
    assert link_escapes("d/x", "../a", hard=True)


# --- case 3: the memo is bounded -------------------------------------------------------------


def memo_bomb(count: int, tail: bytes = b"") -> bytes:
    """PROTO 4, NONE, ``count`` MEMOIZE opcodes, POP, then ``tail`` and STOP."""
    return b"\x80\x04N" + b"\x94" * count + b"0" + tail + b"N."


OS_SYSTEM = b"\x8c\x02os\x8c\x06system\x93" + b"0"


def test_a_memo_bomb_stops_at_the_bound_and_the_walk_goes_on():
    data = memo_bomb(3_000_000, OS_SYSTEM)
    ctx = PickleContext(deadline=time.monotonic() + 120)
    analyze_pickle(data, 0, len(data), ctx, None)
    (limit,) = [f for f in ctx.findings if f.rule == "pickle-memo-limit"]
    assert limit.severity == "unparseable"
    entries = int(limit.message.split("grew to ")[1].split(" entries")[0].replace(",", ""))
    assert 1 << 20 < entries < 1_600_000  # 1 Mi, plus one per 4 bytes walked, checked every 64 KiB
    assert "pickle-dangerous-import" in rules(ctx.import_findings())  # found after the bound


def test_memo_bounds_are_configurable_and_untracked_entries_read_as_opaque():
    # memoize 200k values, then look up an early entry (tracked) and a late one (untracked)
    tail = b"h\x05" + b"0" + b"j" + (150_000).to_bytes(4, "little") + b"0" + OS_SYSTEM
    data = memo_bomb(200_000, tail)
    ctx = PickleContext(deadline=time.monotonic() + 60, memo_base_entries=1_000, max_memo_entries=2_000)
    analyze_pickle(data, 0, len(data), ctx, None)
    assert "pickle-memo-limit" in rules(ctx.findings)
    assert "pickle-unparseable" not in rules(ctx.findings)  # the untracked key is not a "missing key"
    assert "pickle-dangerous-import" in rules(ctx.import_findings())
    ctx = PickleContext(deadline=time.monotonic() + 60, max_memo_bytes=1 << 20)
    analyze_pickle(data, 0, len(data), ctx, None)
    assert "pickle-memo-limit" in rules(ctx.findings)  # 200k entries estimated past 1 MiB


def test_a_stack_bomb_is_unparseable_not_a_memory_hog():
    data = b"\x80\x04" + b"N" * 1_200_000 + b"."
    ctx = PickleContext(deadline=time.monotonic() + 60)
    analyze_pickle(data, 0, len(data), ctx, None)
    (bad,) = [f for f in ctx.findings if f.rule == "pickle-unparseable"]
    assert "stack grows past 1,048,576" in bad.message


def test_real_vocabularies_stay_under_the_memo_bound():
    vocab = {f"token{i}": i for i in range(300_000)}
    for protocol in (2, 4):
        fmt, findings = scan_bytes(pickle.dumps(vocab, protocol=protocol))
        assert fmt == "pickle" and not {f.rule for f in findings if f.severity != "info"}


def test_bytes_past_the_copy_budget_are_kept_by_offset_and_still_analysed():
    inner = pickle.dumps(Reduce(os.system, "id"), protocol=2)
    outer = pickle.dumps(Reduce(pickle.loads, inner), protocol=4)
    ctx = PickleContext(deadline=time.monotonic() + 30, copy_budget=0)
    analyze_pickle(outer, 0, len(outer), ctx, None)
    assert "pickle-nested" in rules(ctx.findings)
    assert any(f.member and "nested pickle" in f.member for f in ctx.import_findings())


# --- case 4: a file truncated while it is scanned -------------------------------------------

TRUNCATE_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from ptmscope.scanners import api

    try:
        from ptmscope.scanners import reader

        reader.WHOLE_READ = int(sys.argv[1])  # 0: read through FileBuffer, as a file over 64 MiB is
    except ImportError:
        pass  # the code before the fix: it memory-maps every file
    victim = sys.argv[2]
    detect = api.detect

    def truncating_detect(buf, start, end, name="", nested=False):
        if name == os.path.basename(victim):
            os.truncate(victim, 100)  # another process truncates the file mid-scan
        return detect(buf, start, end, name, nested)

    api.detect = truncating_detect
    from ptmscope.cli.main import main

    main(["scan", "--no-progress", "--format", "json", *sys.argv[2:]])
    """
)


@pytest.mark.parametrize(
    ("whole_read", "verdict"),
    [(0, "unparseable"), (64 << 20, "dangerous")],  # windowed: the rest was never read; whole: read before the cut
    ids=["windowed", "whole"],
)
def test_a_file_truncated_mid_scan_is_reported_and_the_run_goes_on(tmp_path: Path, whole_read: int, verdict: str):
    """Before: the file was memory-mapped and the process died of SIGBUS with no report."""
    victim = tmp_path / "big.pkl"
    victim.write_bytes(pickle.dumps(list(range(400_000)), protocol=4) + EVIL)  # ~2 MB, payload at the end
    other = tmp_path / "other.pkl"
    other.write_bytes(EVIL)
    script = tmp_path / "truncate_mid_scan.py"
    script.write_text(TRUNCATE_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), str(whole_read), str(victim), str(other)], capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])  # -7 was SIGBUS
    report = {Path(f["path"]).name: f for f in json.loads(done.stdout)["files"]}
    assert report["other.pkl"]["verdict"] == "dangerous"  # the run went on
    big = report["big.pkl"]
    assert big["status"] == "scanned" and big["verdict"] == verdict
    (changed,) = [f for f in big["findings"] if f["rule"] == "file-changed"]
    assert changed["severity"] == "unparseable"


def test_file_buffer_reads_like_a_map_and_raises_when_the_file_shrinks(tmp_path: Path):
    from ptmscope.scanners.reader import FileBuffer, FileChanged

    path = tmp_path / "data.bin"
    data = bytes(range(256)) * 20_000  # 5 MiB
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        buf = FileBuffer(fd, len(data))
        assert len(buf) == len(data) and buf[0] == 0 and buf[-1] == 255 and buf[3_000_001] == data[3_000_001]
        assert buf[10:20] == data[10:20] and buf[len(data) - 5 : len(data) + 100] == data[-5:]
        assert buf[(1 << 20) - 3 : (1 << 20) + 3] == data[(1 << 20) - 3 : (1 << 20) + 3]
        assert buf[: 3 << 20] == data[: 3 << 20] and buf[5:1:-1] == data[5:1:-1] and buf[7:7] == b""
        needle = data[(2 << 20) - 2 : (2 << 20) + 3]
        assert buf.find(needle, 1 << 20) == data.find(needle, 1 << 20)
        assert buf.find(b"\xff\x00\x01", 0, 256) == -1 and buf.find(b"\xff\x00\x01") == data.find(b"\xff\x00\x01")
        with pytest.raises(IndexError):
            buf[len(data)]
        os.truncate(path, 1000)
        with pytest.raises(FileChanged):
            buf[4 << 20]
        assert buf.shrunk is not None and buf.shrunk.got == 1000
    finally:
        os.close(fd)


# --- case 5: FIFOs and devices are not "no such file" and are never read -----------------------


def test_a_fifo_and_a_device_are_named_not_read(tmp_path: Path):
    fifo = tmp_path / "pipe.pkl"
    os.mkfifo(fifo)
    done: list[tuple[int, str, str]] = []
    worker = threading.Thread(target=lambda: done.append(run(str(fifo), "/dev/zero")), daemon=True)
    worker.start()
    worker.join(30)  # a blocking open of the FIFO would hang here (no writer ever comes)
    assert done, "the scan blocked on the FIFO"
    code, out, err = done[0]
    assert code == 2
    assert "pipe.pkl  not a regular file: a FIFO (named pipe); not read" in out
    assert "/dev/zero  not a regular file: a character device; not read" in out
    assert "no such file" not in out and "2 error(s)" in err


def test_a_fifo_in_a_folder_is_an_error_and_the_rest_is_scanned(tmp_path: Path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "good.pkl").write_bytes(pickle.dumps({"w": [1, 2]}))
    code, out, _ = run(str(tmp_path), "--format", "json")
    by_name = {Path(f["path"]).name: f for f in json.loads(out)["files"]}
    assert code == 2 and by_name["good.pkl"]["verdict"] == "clean"
    assert by_name["pipe"]["status"] == "error" and "FIFO" in by_name["pipe"]["reason"]
    result = scan_file(tmp_path / "pipe")
    assert isinstance(result, SkippedFile) and result.error and "FIFO" in result.skip_reason


def test_missing_files_and_broken_links_are_still_named(tmp_path: Path):
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    result = scan_file(tmp_path / "dangling")
    assert isinstance(result, SkippedFile) and result.error and "broken symbolic link" in result.skip_reason
    assert isinstance(scan_file(tmp_path / "good"), SkippedFile)
    code, out, _ = run(str(tmp_path / "missing.pkl"))
    assert code == 2 and "no such file or folder" in out


def test_a_scanned_file_is_not_memory_mapped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import mmap

    def no_mmap(*_a: object, **_k: object) -> None:
        raise AssertionError("mmap used: a truncated file would kill the process with SIGBUS")

    monkeypatch.setattr(mmap, "mmap", no_mmap)
    path = tmp_path / "evil.pkl"
    path.write_bytes(EVIL)
    result = scan_file(path)
    assert isinstance(result, ScannedFile) and result.verdict == "dangerous"
