"""Signature headers: real OpenPGP and SSH signatures, and hostile bytes that must not raise."""

from __future__ import annotations

import base64
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ptmscope.clone.signatures import classify, openpgp_key_id, ssh_fingerprint
from tests.gitrepos import make_signers


@pytest.fixture(scope="module")
def signers(tmp_path_factory):
    return make_signers(tmp_path_factory.mktemp("keys"))


def test_real_openpgp_and_ssh_signatures(signers, tmp_path):
    payload = tmp_path / "payload"
    payload.write_bytes(b"tree 0000\n\nmessage\n")
    gpg = subprocess.run(
        ["gpg", "--batch", "--armor", "--detach-sign", "--local-user", signers.gpg_fingerprint, "-o", "-",
         str(payload)],
        check=True, capture_output=True, env=signers.env(),
    ).stdout  # fmt: skip
    assert classify(gpg) == ("openpgp", signers.gpg_key_id)
    subprocess.run(
        ["ssh-keygen", "-Y", "sign", "-q", "-f", str(signers.ssh_key), "-n", "git", str(payload)],
        check=True,
        capture_output=True,
    )
    ssh = (tmp_path / "payload.sig").read_bytes()
    assert classify(ssh) == ("ssh", signers.ssh_fingerprint)


def test_other_kinds_and_absence():
    assert classify(None) == ("none", None)
    assert classify(b"") == ("none", None)
    assert classify(b"-----BEGIN SIGNED MESSAGE-----\nMIAG\n-----END SIGNED MESSAGE-----\n") == ("x509", None)
    assert classify(b"something else") == ("other", None)


def test_malformed_signatures_give_a_kind_and_no_key():
    assert classify(b"-----BEGIN PGP SIGNATURE-----\n\n!!!!\n-----END PGP SIGNATURE-----") == ("openpgp", None)
    truncated = base64.b64encode(bytes([0xC2, 0xFF, 0xFF])).decode()
    armored = f"-----BEGIN PGP SIGNATURE-----\n\n{truncated}\n-----END PGP SIGNATURE-----".encode()
    assert classify(armored) == ("openpgp", None)
    assert ssh_fingerprint(b"SSHSIG\x00\x00\x00\x01\xff\xff\xff\xff") is None
    assert openpgp_key_id(b"\x88\x05\x03") is None


@given(st.binary(max_size=300))
def test_random_bytes_never_raise(data):
    assert openpgp_key_id(data) is None or len(openpgp_key_id(data) or "") == 16
    ssh_fingerprint(b"SSHSIG" + data)
    armored = b"-----BEGIN PGP SIGNATURE-----\n\n" + base64.b64encode(data) + b"\n-----END PGP SIGNATURE-----"
    assert classify(armored)[0] == "openpgp"
