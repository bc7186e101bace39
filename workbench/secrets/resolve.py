"""Read a key the way the application should: keychain first, then the environment.

The environment variable exists for headless CI, where there is no keychain; a key
found there is used for this process only and never written anywhere. Every read
is reported to an audit callback with the key's *name* and where it came from,
never its value, and the value is registered for log redaction.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from workbench.secrets.errors import KeychainUnavailableError
from workbench.secrets.redaction import register_secret
from workbench.secrets.store import SecretStore

#: ``audit(key_name, source)``; ``source`` is ``"keychain"`` or ``"env:VARNAME"``.
AuditCallback = Callable[[str, str], None]

KEYCHAIN_SOURCE = "keychain"


def resolve_key(
    store: SecretStore,
    key_name: str,
    env_var: str | None = None,
    *,
    audit: AuditCallback | None = None,
    environ: Mapping[str, str] | None = None,
) -> str | None:
    """The value of ``key_name``, or None when neither source has it.

    The keychain wins. When it holds nothing, or there is no usable keychain, a
    non-empty ``env_var`` is used instead. When there is no keychain *and* no such
    variable, :class:`KeychainUnavailableError` is raised (its hint names the
    variable). ``environ`` defaults to ``os.environ``.
    """
    env = os.environ if environ is None else environ
    env_value = env.get(env_var, "") if env_var else ""
    try:
        value = store.get(key_name)
    except KeychainUnavailableError as exc:
        if not env_value:
            if env_var:
                raise KeychainUnavailableError(
                    exc.message,
                    hint=f"{exc.hint} Or, for this process only, set {env_var} in the environment.",
                    reason=exc.reason,
                    backend_name=exc.backend_name,
                ) from exc
            raise
        value = None

    if value is not None:
        source = KEYCHAIN_SOURCE
    elif env_value:
        value, source = env_value, f"env:{env_var}"
    else:
        return None
    register_secret(value)
    if audit is not None:
        audit(key_name, source)
    return value
