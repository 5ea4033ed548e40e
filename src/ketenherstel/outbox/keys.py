"""Ed25519 keys for signing bundles: the outbox's private key file and the public key the
exchange operator registers.

The private key is an unencrypted PKCS#8 PEM file, created with mode 0600 and never overwritten.
The public key travels as base64 of its 32 raw bytes. Imports only the standard library and
``cryptography``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ketenherstel.outbox.errors import KeyFileError

__all__ = [
    "create_key_file",
    "generate_private_key",
    "key_id",
    "parse_public_key",
    "private_key_from_pem",
    "private_key_to_pem",
    "public_key_b64",
    "public_key_raw",
    "read_key_file",
]


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_to_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def private_key_from_pem(data: bytes) -> Ed25519PrivateKey:
    """Read an unencrypted PKCS#8 PEM Ed25519 private key; raises KeyFileError otherwise."""
    # Said in our words: the library's named its own error types and a web page (a review).
    if b"-----BEGIN" not in data:
        raise KeyFileError(
            "not a PEM private key (it has no '-----BEGIN PRIVATE KEY-----' line): give the "
            "key file `outbox keygen` wrote"
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:  # a password-protected key
        raise KeyFileError(
            "an encrypted private key: the outbox signs unattended, so give the unencrypted "
            "key file `outbox keygen` wrote"
        ) from None
    except ValueError:
        raise KeyFileError(
            "a PEM file no private key could be read from (damaged, or another kind of key); "
            "give the key file `outbox keygen` wrote"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"the key is {type(key).__name__}, not an Ed25519 private key")
    return key


def public_key_raw(key: Ed25519PrivateKey) -> bytes:
    """The 32 raw bytes of the key's public half (what the exchange operator registers)."""
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def parse_public_key(text: str) -> bytes:
    """A public key as `outbox keygen` prints it (base64 of 32 raw bytes) -> the 32 bytes.

    Raises ValueError naming the problem.
    """
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except binascii.Error:
        raise ValueError("a public key is base64 text (as `outbox keygen` prints it)") from None
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 public key is 32 bytes, not {len(raw)}")
    return raw


def key_id(public_key: bytes) -> str:
    """A short, stable name for a raw public key: ``ed25519:`` + 16 hex digits of its SHA-256."""
    return "ed25519:" + hashlib.sha256(public_key).hexdigest()[:16]


def public_key_b64(key: Ed25519PrivateKey) -> str:
    """The public key as `outbox keygen` prints it: base64 of the 32 raw bytes."""
    return base64.b64encode(public_key_raw(key)).decode()


def create_key_file(path: Path) -> Ed25519PrivateKey:
    """Generate a key and write it to `path` (mode 0600). Refuses to overwrite a file."""
    key = generate_private_key()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # no such folder (/proc/x), a file in the way, no permission
        raise KeyFileError(f"cannot create {path}: {exc.strerror or exc}") from None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(
            f"{path} exists; a key file is never overwritten (move it away first)"
        ) from None
    except OSError as exc:
        raise KeyFileError(f"cannot create {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(private_key_to_pem(key))
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:  # a full disk: no half key file is left behind
        with contextlib.suppress(OSError):
            path.unlink()
        raise KeyFileError(f"cannot write {path}: {exc.strerror or exc}") from None
    return key


def read_key_file(path: Path) -> Ed25519PrivateKey:
    """Read a private key file written by `create_key_file`."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(f"no key file at {path}; create one with `outbox keygen`") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return private_key_from_pem(data)
    except KeyFileError as exc:
        raise KeyFileError(f"{path}: {exc}") from None
