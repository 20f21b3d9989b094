"""Secrets never leave the process: every text that reaches a user or a log passes here.

The secrets are read from the environment names below, and those each target declares
(TargetSpec.secrets, registered by ops.targets.registry), at call time, so a token set after
import (tests, ``.env``) is still redacted.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

SECRET_ENV_NAMES = ("DISCORD_TOKEN", "CODE_DEPLOY_KEY")
_secret_envs: set[str] = set(SECRET_ENV_NAMES)
_extra: set[str] = set()
MASK = "[redacted]"


def register_secret(value: str | None) -> None:
    """Treat ``value`` as a secret from now on (for secrets not held in the environment)."""
    if value and len(value) >= 6:
        _extra.add(value)


def register_secret_env(names: Iterable[str]) -> None:
    """The values of these environment variables are secrets (a target's tokens)."""
    _secret_envs.update(names)


def shown_url(url: str) -> str:
    """A URL as people may see it: without ``user:password@`` (HEALTH_URL may carry basic auth)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def register_url_credentials(url: str) -> None:
    """The password (and user:password) of a URL become secrets: masked wherever they appear."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return
    if parts.password:
        register_secret(parts.password)
        register_secret(f"{parts.username or ''}:{parts.password}")


def _secrets() -> list[str]:
    values = {os.environ.get(name, "") for name in _secret_envs} | _extra
    # Longest first, so a secret containing another is masked whole.
    return sorted((v for v in values if v and len(v) >= 6), key=len, reverse=True)


def redact(text: str) -> str:
    for secret in _secrets():
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Installed on the root handlers: a log record can never print a secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_log_redaction() -> None:
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
