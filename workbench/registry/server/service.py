"""The registry's rules, as one :class:`RegistryService` assembled from one part per
concern. Every decision about who may do what is made from the authenticated
:class:`~workbench.registry.server.auth.Actor` alone; nothing a client claims about
identity counts.

Each write is one transaction under the writers' lock: the change, its feed entry and
its audit entry commit together or not at all.

Which module does what (routes -> service -> repository, all SQL in the repositories):

- :mod:`.auth`: users, tokens, ``authenticate``, app-token scopes, roles;
- :mod:`.versions`: pushing versions, reading prompts and versions;
- :mod:`.reviews`: reviews and the rules on them (no self-approval, comment on
  request-changes, evidence);
- :mod:`.labels`: reading and moving labels (compare-and-swap, protected labels);
- :mod:`.resolve`: the version a label serves, canary split, the cached hot path;
- :mod:`.feed`: the change feed and the audit chain;
- :mod:`.suites`: test suites and evidence policies (``service.suites``);
- :mod:`.telemetry`: production spans, stats, canary guard rails (``service.telemetry``);
- :mod:`.base`: what the parts share (database, settings, name checks, lookups).
"""

from __future__ import annotations

from workbench.registry.server import repository as repo
from workbench.registry.server.auth import UsersMixin
from workbench.registry.server.config import RegistrySettings
from workbench.registry.server.db import Database
from workbench.registry.server.feed import FeedMixin
from workbench.registry.server.labels import LabelsMixin
from workbench.registry.server.resolve import ResolvedBodies, ResolveMixin
from workbench.registry.server.reviews import ReviewsMixin
from workbench.registry.server.suites import SuiteService
from workbench.registry.server.telemetry import Telemetry
from workbench.registry.server.versions import VersionsMixin


class RegistryService(
    UsersMixin, VersionsMixin, ReviewsMixin, LabelsMixin, ResolveMixin, FeedMixin
):
    """Every operation of the registry, without a web framework (the routes, the admin
    commands and the tests call it alike). Holds no state besides its database and a
    cache that can never be stale (see :class:`~.resolve.ResolvedBodies`)."""

    def __init__(self, db: Database, settings: RegistrySettings) -> None:
        self.db = db
        self.settings = settings
        self._resolved = ResolvedBodies()
        self.telemetry = Telemetry(db, settings)
        self.suites = SuiteService(db)

    def ping(self) -> None:
        """Raise unless the database answers (the readiness probe)."""
        with self.db.reading() as session:
            repo.read_head(session)
