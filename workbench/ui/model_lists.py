"""The window's model lists: what Compare offers, refreshed off the GUI thread.

A thin Qt shell over :mod:`workbench.app.models`: :meth:`ModelLists.available` is
the "profile:model" list Compare shows (cached listings plus typed names, read from
the model cache, no network); :meth:`ModelLists.refresh` asks the servers again on a
worker thread and emits :attr:`ModelLists.changed` on the GUI thread when the cache
has the answers, so Compare reloads its Models list."""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from workbench.app.models import ModelCache, ModelListing, available_models, refresh_models
from workbench.secrets.store import SecretStore
from workbench.settings import Settings
from workbench.ui.ops import run_in_thread


class ModelLists(QObject):
    changed = Signal(object)
    """The cache has new listings: a ``dict[str, ModelListing]`` by profile name."""

    def __init__(
        self,
        settings: Callable[[], Settings],
        secrets: Callable[[], SecretStore],
        cache: ModelCache,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._settings = settings
        self._secrets = secrets
        self.cache = cache
        self._thread: threading.Thread | None = None
        self._again: bool | None = None  # a refresh asked for while one runs (only_missing)
        self._closed = False

    @property
    def running(self) -> bool:
        return self._thread is not None

    def available(self) -> list[str]:
        """Every "profile:model" to offer (no network: the cache and typed names)."""
        return available_models(self._settings(), self.cache)

    def refresh(self, *, only_missing: bool = False) -> None:
        """List the profiles' models again off the GUI thread (``only_missing``: only
        profiles with nothing cached for their server, e.g. just saved ones)."""
        if self._closed:
            return
        if self._thread is not None:
            self._again = only_missing and (self._again is None or self._again)
            return
        settings, secrets, cache = self._settings(), self._secrets, self.cache

        def work() -> dict[str, ModelListing]:
            return refresh_models(settings, secrets(), cache, only_missing=only_missing)

        self._thread = run_in_thread(work, self._done, self._failed)

    def _done(self, listings: dict[str, ModelListing]) -> None:
        self._thread = None
        if self._closed:
            return
        if listings:  # nothing listed: nothing new to offer
            self.changed.emit(listings)
        self._next()

    def _failed(self, exc: BaseException) -> None:
        """Only a bug gets here (a server's refusal is a listing with its reason)."""
        self._thread = None
        self._again = None
        if self._closed:
            return
        raise exc  # sys.excepthook shows the crash dialog

    @staticmethod
    def summary(listings: dict[str, ModelListing]) -> str:
        """One status-bar line for a refresh."""
        parts = [
            f"{name}: {len(listing.models)} model{'' if len(listing.models) == 1 else 's'}"
            if listing.error is None
            else f"{name}: could not list (the reason is in Settings → Providers)"
            for name, listing in listings.items()
        ]
        return "Model lists: " + "; ".join(parts)

    def _next(self) -> None:
        again, self._again = self._again, None
        if again is not None:
            self.refresh(only_missing=again)

    def shutdown(self) -> None:
        """The window closes: a refresh still running writes the cache and tells no one
        (listing can take a server's whole timeout; closing does not wait for it)."""
        self._closed = True
        self._again = None

    def wait(self, timeout: float = 15.0) -> None:
        """Wait for a running refresh (tests and scripts)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
