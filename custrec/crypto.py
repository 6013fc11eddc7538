"""The cryptographic building blocks of the store, all from the ``cryptography`` package.

- AES-256-GCM (AEAD) for everything encrypted, with a fresh random key for every
  chunk version, so a key never encrypts more than one message and the 96-bit random
  nonce can never collide under one key;
- HKDF-SHA256 to derive purpose-bound subkeys;
- HMAC-SHA256 for header and manifest authentication and for blind index tokens;
- X25519 to wrap the store's master key to each key holder, so a holder can be added
  or the master key replaced without the other holders' secrets;
- Argon2id to stretch passphrases, with its parameters stored and capped on read.

See ``docs/format.md`` for how these are combined.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import NamedTuple

# cryptography's HMAC and SHA-256 serve the single MACs, hashes and comparisons: the
# standard hashlib/hmac modules load a second OpenSSL, which a point read would wait
# for. Only the batched :func:`tokens` uses hashlib (imported there).
from cryptography.hazmat.primitives import hashes, hmac

from custrec.errors import IntegrityError, UsageError

KEY_BYTES = 32
NONCE_BYTES = 12
TOKEN_BYTES = 16

# Argon2id parameters for new passphrase slots (RFC 9106 "second recommended" uses
# 64 MiB, t=3, p=4) and the most a reader will accept, so that a forged header cannot
# make opening a store take unbounded memory or time.
ARGON2_DEFAULT = {"memory_kib": 65_536, "iterations": 3, "lanes": 4}
ARGON2_LIMITS = {"memory_kib": 1_048_576, "iterations": 16, "lanes": 16}
ARGON2_MINIMUM = {"memory_kib": 8, "iterations": 1, "lanes": 1}


_SHA256 = hashes.SHA256()
_COMPARE_KEY = os.urandom(KEY_BYTES)
"""A random key of this process, for :func:`equal`."""


def equal(a: bytes, b: bytes) -> bool:
    """Compare secrets or MACs in constant time: both are MACed under a random key
    unknown outside this process and the MACs compared (the double-HMAC comparison), so
    how long the comparison takes tells nothing about ``a`` or ``b``."""
    return hmac_sha256(_COMPARE_KEY, a) == hmac_sha256(_COMPARE_KEY, b)


def random_bytes(size: int = KEY_BYTES) -> bytes:
    return os.urandom(size)


def hkdf(key: bytes, info: str, salt: bytes = b"", length: int = KEY_BYTES) -> bytes:
    """A subkey of ``key`` for one purpose (``info``), bound to ``salt``."""
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=_SHA256, length=length, salt=salt, info=info.encode("ascii")).derive(key)


def sha256(data: bytes) -> bytes:
    digest = hashes.Hash(_SHA256)
    digest.update(data)
    return digest.finalize()


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    h = hmac.HMAC(key, _SHA256)
    h.update(data)
    return h.finalize()


def mac(key: bytes, *parts: bytes) -> bytes:
    """HMAC-SHA256 over length-prefixed parts (so that part boundaries are unambiguous)."""
    return hmac_sha256(key, b"".join([len(part).to_bytes(8, "big") + part for part in parts]))


def token(key: bytes, *parts: bytes) -> bytes:
    """A blind index token: a truncated keyed MAC that reveals nothing without the key."""
    return mac(key, *parts)[:TOKEN_BYTES]


def tokens(key: bytes, prefix: Sequence[bytes], values: Iterable[bytes]) -> list[bytes]:
    """``[token(key, *prefix, v) for v in values]``, computed faster for many values:
    HMAC-SHA256 spelled out with hashlib (RFC 2104), its keyed inner state after the
    prefix and its keyed outer state computed once and copied per value."""
    import hashlib  # here only: see the note on the imports

    block = hashlib.sha256().block_size
    padded = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))
    for part in prefix:
        inner.update(len(part).to_bytes(8, "big"))
        inner.update(part)
    out = []
    inner_copy, outer_copy = inner.copy, outer.copy
    for value in values:
        h = inner_copy()
        h.update(len(value).to_bytes(8, "big"))
        h.update(value)
        o = outer_copy()
        o.update(h.digest())
        out.append(o.digest()[:TOKEN_BYTES])
    return out


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM: ``nonce || ciphertext || tag``."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, sealed: bytes, aad: bytes, what: str) -> bytes:
    """Decrypt :func:`seal` output; any change to it or to ``aad`` is tampering."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except (InvalidTag, ValueError):
        raise IntegrityError(
            f"{what} failed its integrity check: the store was tampered with or damaged"
        ) from None


# --- key holders (slots) -----------------------------------------------------------


def holder_private_key(secret: bytes) -> bytes:
    """The X25519 private key of a key holder, derived from their key-file key or
    stretched passphrase."""
    return hkdf(secret, "custrec holder x25519 v1")


def holder_public_key(secret: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    private = X25519PrivateKey.from_private_bytes(holder_private_key(secret))
    return private.public_key().public_bytes_raw()


class WrappedKey(NamedTuple):
    """A key wrapped to one holder: an ephemeral X25519 public key and the sealed key."""

    ephemeral: bytes
    sealed: bytes


def wrap_to_holder(key: bytes, public: bytes, aad: bytes) -> WrappedKey:
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )

    ephemeral = X25519PrivateKey.generate()
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(public))
    ephemeral_public = ephemeral.public_key().public_bytes_raw()
    wrapping = hkdf(shared, "custrec wrap v1", salt=ephemeral_public + public)
    return WrappedKey(ephemeral_public, seal(wrapping, key, aad))


def unwrap_from_holder(secret: bytes, wrapped: WrappedKey, aad: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )

    private = X25519PrivateKey.from_private_bytes(holder_private_key(secret))
    public = private.public_key().public_bytes_raw()
    shared = private.exchange(X25519PublicKey.from_public_bytes(wrapped.ephemeral))
    wrapping = hkdf(shared, "custrec wrap v1", salt=wrapped.ephemeral + public)
    return open_sealed(wrapping, wrapped.sealed, aad, "the wrapped master key")


# --- passphrases -------------------------------------------------------------------


def check_argon2_parameters(params: dict[str, int]) -> dict[str, int]:
    """Refuse parameters outside the accepted range (a forged header could otherwise
    ask for terabytes of memory)."""
    checked = {}
    for name in ("memory_kib", "iterations", "lanes"):
        value = params.get(name)
        if not isinstance(value, int) or not (ARGON2_MINIMUM[name] <= value <= ARGON2_LIMITS[name]):
            raise IntegrityError(
                f"passphrase parameter {name}={value!r} is outside the accepted range "
                f"{ARGON2_MINIMUM[name]}..{ARGON2_LIMITS[name]}: the store header was altered"
            )
        checked[name] = value
    if checked["memory_kib"] < 8 * checked["lanes"]:
        raise IntegrityError("passphrase parameters are inconsistent: the header was altered")
    return checked


def stretch_passphrase(passphrase: str, salt: bytes, params: dict[str, int]) -> bytes:
    """Argon2id(passphrase, salt) with checked parameters."""
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

    if not passphrase:
        raise UsageError("the passphrase is empty")
    checked = check_argon2_parameters(params)
    return Argon2id(
        salt=salt,
        length=KEY_BYTES,
        iterations=checked["iterations"],
        lanes=checked["lanes"],
        memory_cost=checked["memory_kib"],
    ).derive(passphrase.encode("utf-8"))
