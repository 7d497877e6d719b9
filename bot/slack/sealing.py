"""Secrets the bot must keep in its database for a while (a workflow step's execution token,
until the step is completed), sealed: Fernet, with a key derived by HKDF from the bot's own
Slack secret, so a database dump, a backup or a SQL debug log shows only ciphertext."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

__all__ = ["Sealer"]

PURPOSE = b"sfvopi-bot workflow step tokens v1"


class Sealer:
    """Seals and opens short secrets with a key only the running bot holds."""

    def __init__(self, secret: SecretStr) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE).derive(
            secret.get_secret_value().encode()
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, value: SecretStr) -> str:
        return self._fernet.encrypt(value.get_secret_value().encode()).decode("ascii")

    def open(self, sealed: str) -> SecretStr | None:
        """The secret, or None when it was sealed under another key (the bot's secret was
        rotated since) or was tampered with."""
        try:
            return SecretStr(self._fernet.decrypt(sealed.encode("ascii")).decode())
        except (InvalidToken, ValueError):
            return None
