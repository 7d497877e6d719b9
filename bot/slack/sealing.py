"""Secrets the bot must keep in its database for a while (a workflow step's execution token,
until the step is completed), sealed: Fernet, with a key derived by HKDF from the bot's own
Slack secret, so a database dump, a backup or a SQL debug log shows only ciphertext.

`cryptography` is imported at the first seal or open: it costs ~7 MB of RSS, and a bot that
runs no Workflow Builder step never needs it (issue 16's idle-memory target)."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from pydantic import SecretStr

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

__all__ = ["Sealer"]

PURPOSE = b"sfvopi-bot workflow step tokens v1"


class Sealer:
    """Seals and opens short secrets with a key only the running bot holds."""

    def __init__(self, secret: SecretStr) -> None:
        self._secret = secret
        self._fernet: Fernet | None = None

    def _key(self) -> Fernet:
        if self._fernet is None:
            from cryptography.fernet import Fernet
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.kdf.hkdf import HKDF

            key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE).derive(
                self._secret.get_secret_value().encode()
            )
            self._fernet = Fernet(base64.urlsafe_b64encode(key))
        return self._fernet

    def seal(self, value: SecretStr) -> str:
        return self._key().encrypt(value.get_secret_value().encode()).decode("ascii")

    def open(self, sealed: str) -> SecretStr | None:
        """The secret, or None when it was sealed under another key (the bot's secret was
        rotated since) or was tampered with."""
        from cryptography.fernet import InvalidToken

        try:
            return SecretStr(self._key().decrypt(sealed.encode("ascii")).decode())
        except (InvalidToken, ValueError):
            return None
