"""What a commit's ``gpgsig`` header holds: the kind of signature and the key that made it.

The header is read, never verified: verification needs the signer's public key and a
keyring or an allowed-signers file, which a registry-wide measurement does not have (and the
ICSE'23 measurement did not use either: it asked whether commits carry signatures). The key id
is the one the signature names:

- OpenPGP (``-----BEGIN PGP SIGNATURE-----``): the issuer key id, 16 upper-case hex digits, from
  the issuer (type 16) or issuer-fingerprint (type 33) subpacket; what ``git log --format=%GK``
  prints.
- SSH (``-----BEGIN SSH SIGNATURE-----``): the fingerprint of the public key inside the SSHSIG
  blob, ``SHA256:<base64>``, as ``ssh-keygen -l`` prints it.
- X.509 / S/MIME (``-----BEGIN SIGNED MESSAGE-----``, gpgsm): the kind only (key id None).

Signatures are untrusted bytes: every length is checked and a malformed one is reported as
its kind with no key id, never an exception.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct

OPENPGP, SSH, X509, NONE, OTHER = "openpgp", "ssh", "x509", "none", "other"
MAX_SIGNATURE_BYTES = 64 * 1024


def classify(signature: bytes | None) -> tuple[str, str | None]:
    """(kind, key id) for a commit's signature bytes; ("none", None) when there is none."""
    if not signature:
        return NONE, None
    head = signature[:64].lstrip()
    if head.startswith(b"-----BEGIN PGP SIGNATURE-----"):
        return OPENPGP, openpgp_key_id(_dearmor(signature))
    if head.startswith(b"-----BEGIN SSH SIGNATURE-----"):
        return SSH, ssh_fingerprint(_dearmor(signature))
    if head.startswith((b"-----BEGIN SIGNED MESSAGE-----", b"-----BEGIN PKCS7-----", b"-----BEGIN CMS-----")):
        return X509, None
    return OTHER, None


def _dearmor(armored: bytes) -> bytes | None:
    """The binary body of an ASCII-armored block (headers and the OpenPGP CRC line dropped)."""
    lines = armored[:MAX_SIGNATURE_BYTES].replace(b"\r", b"").split(b"\n")
    body: list[bytes] = []
    for line in lines[1:]:
        line = line.strip()
        if line.startswith(b"-----END"):
            break
        if not body and (not line or b":" in line):  # armor headers ("Version: ...") and the blank line after
            continue
        if line.startswith(b"=") and len(line) == 5:  # OpenPGP CRC-24 line
            continue
        body.append(line)
    try:
        return base64.b64decode(b"".join(body), validate=False)
    except (binascii.Error, ValueError):
        return None


def openpgp_key_id(data: bytes | None) -> str | None:
    """The issuer key id of the first OpenPGP signature packet in ``data``, or None."""
    if not data:
        return None
    try:
        tag, body = _first_packet(data)
    except (IndexError, struct.error, ValueError):
        return None
    if tag != 2 or not body:
        return None
    version = body[0]
    try:
        if version == 3:  # len(5), type, time(4), key id(8)
            return body[7:15].hex().upper() if len(body) >= 15 else None
        if version in (4, 5, 6):
            offset = 4  # version, signature type, public-key algorithm, hash algorithm
            count_size = 4 if version == 6 else 2
            found: str | None = None
            for _ in range(2):  # hashed, then unhashed subpackets
                size = int.from_bytes(body[offset : offset + count_size], "big")
                offset += count_size
                area = body[offset : offset + size]
                if len(area) != size:
                    return found
                found = _issuer(area, version) or found
                if found:
                    return found
                offset += size
            return found
    except (IndexError, ValueError):
        return None
    return None


def _first_packet(data: bytes) -> tuple[int, bytes]:
    first = data[0]
    if not first & 0x80:
        raise ValueError("not an OpenPGP packet")
    if first & 0x40:  # new format
        tag = first & 0x3F
        o1 = data[1]
        if o1 < 192:
            length, start = o1, 2
        elif o1 < 224:
            length, start = ((o1 - 192) << 8) + data[2] + 192, 3
        elif o1 == 255:
            length, start = struct.unpack(">I", data[2:6])[0], 6
        else:  # partial body lengths do not occur in detached signatures
            raise ValueError("partial packet length")
    else:
        tag = (first >> 2) & 0x0F
        kind = first & 0x03
        if kind == 0:
            length, start = data[1], 2
        elif kind == 1:
            length, start = struct.unpack(">H", data[1:3])[0], 3
        elif kind == 2:
            length, start = struct.unpack(">I", data[1:5])[0], 5
        else:
            length, start = len(data) - 1, 1
    return tag, data[start : start + length]


def _issuer(area: bytes, version: int) -> str | None:
    offset = 0
    fingerprint_id: str | None = None
    while offset < len(area):
        o1 = area[offset]
        if o1 < 192:
            size, offset = o1, offset + 1
        elif o1 < 255:
            size, offset = ((o1 - 192) << 8) + area[offset + 1] + 192, offset + 2
        else:
            size, offset = int.from_bytes(area[offset + 1 : offset + 5], "big"), offset + 5
        if size < 1 or offset + size > len(area):
            return fingerprint_id
        kind = area[offset] & 0x7F
        value = area[offset + 1 : offset + size]
        if kind == 16 and len(value) == 8:
            return value.hex().upper()
        if kind == 33 and len(value) >= 21:
            fingerprint = value[1:]
            # v4 key ids are the fingerprint's last 8 bytes; v5/v6 ids its first 8.
            fingerprint_id = (fingerprint[-8:] if value[0] == 4 else fingerprint[:8]).hex().upper()
        offset += size
    return fingerprint_id


def ssh_fingerprint(data: bytes | None) -> str | None:
    """``SHA256:...`` of the public key in an SSHSIG blob, or None when the blob is malformed."""
    if not data or not data.startswith(b"SSHSIG"):
        return None
    try:
        offset = 6 + 4  # magic, version
        (size,) = struct.unpack(">I", data[offset : offset + 4])
        key = data[offset + 4 : offset + 4 + size]
        if len(key) != size or size == 0:
            return None
    except struct.error:
        return None
    digest = hashlib.sha256(key).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")
