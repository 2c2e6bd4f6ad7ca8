"""What a running Forvent holds: settings, database, playbooks, business, clock."""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from engine.core import timing
from engine.core.business import BusinessProfile, load_business
from engine.core.clock import Clock, FixedClock, SystemClock
from engine.core.links import LinkSigner
from engine.core.playbooks import PlaybookSet
from engine.exceptions import ConfigurationError
from engine.settings import Settings
from engine.store.db import Database

if TYPE_CHECKING:
    # Imported where first used: a command that only reads the store never renders or plans.
    from engine.core.planner import Planner
    from engine.messages.renderer import Renderer


class Runtime:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        business: BusinessProfile | None = None,
        database: Database | None = None,
    ) -> None:
        self.settings = settings
        if clock is None:
            clock = FixedClock(timing.parse_clock_instant(settings.now)) if settings.now else SystemClock()
        self.clock = clock
        self._business = business.sending_as(settings.email_from) if business else None
        self._database = database
        self.playbooks = PlaybookSet(settings.playbooks_dir)
        self._planners: dict[str, Planner] = {}

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def database(self) -> Database:
        if self._database is None:
            self._database = Database(self.settings.database_url, secret=self.settings.secret)
        return self._database

    @property
    def business(self) -> BusinessProfile:
        if self._business is None:
            self._business = load_business(self.settings.business_file).sending_as(self.settings.email_from)
        return self._business

    @cached_property
    def renderer(self) -> Renderer:
        from engine.messages.renderer import Renderer

        return Renderer(Path(self.settings.templates_dir))

    def planner(self, playbook_id: str) -> Planner:
        if playbook_id not in self._planners:
            from engine.core.planner import Planner

            self._planners[playbook_id] = Planner(self.playbooks.get(playbook_id), self.business)
        return self._planners[playbook_id]

    @property
    def signer(self) -> LinkSigner:
        if not self.settings.secret:
            raise ConfigurationError("FORVENT_SECRET is not set: it signs the customers' links")
        return LinkSigner(self.settings.secret, self.settings.link_ttl)

    def close(self) -> None:
        if self._database is not None:
            self._database.dispose()
