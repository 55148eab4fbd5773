"""Encryption at rest for tokens and broker URLs.

MultiFernet over ENCRYPTION_KEYS: the first key encrypts, every key decrypts,
so a new key can be put first and old rows re-encrypted at leisure (`rotate`, run over every row by
`guvscale rekey`).
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class DecryptionError(RuntimeError):
    """A stored secret no configured key can open (a key was removed too early)."""


class Vault:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("ENCRYPTION_KEYS holds no key")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        except ValueError as exc:
            # Fernet's message would echo nothing secret, but say which setting is wrong.
            raise ValueError("ENCRYPTION_KEYS: each key must be 32 url-safe base64 bytes") from exc

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken as exc:
            raise DecryptionError("stored secret cannot be decrypted with ENCRYPTION_KEYS") from exc

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt under the newest key (`guvscale rekey`)."""
        try:
            return self._fernet.rotate(token)
        except InvalidToken as exc:
            raise DecryptionError("stored secret cannot be decrypted with ENCRYPTION_KEYS") from exc
