"""Public views as at the newest checkpoint, with their proof material, cached.

A public view is a function of the checkpoint it is cut at (projections/public.py), so
it is built once per (view, checkpoint) and served from memory until a newer checkpoint
is signed: a crowd reading the tracker costs one build per checkpoint, not one per
reader, and nobody waits more than FRESH_WAIT for a slow build while the view at the
checkpoint before is at hand (bench/monitor.py: 60 s for a recommendation's first build
at 1M entries). The cache is per process and bounded.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ledger.config import LedgerConfig
from ledger.public_proofs import PageCheckpoint, page_checkpoint, proof_material
from ledger.service import Ledger
from projections import public

CACHED_VIEWS = 256
#: Seconds a reader waits for the view at a new checkpoint when an older one is at hand.
FRESH_WAIT = 2.0


class NothingPublished(LookupError):
    """The log has no signed checkpoint yet, so there is nothing a reader could check."""


class PublicViews:
    """Builds and caches the public views of one ledger."""

    def __init__(self, ledger: Ledger, config: LedgerConfig) -> None:
        self.ledger = ledger
        self.config = config
        self._cache: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
        #: Per view, the newest one built (served while a newer one is being built).
        self._latest: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._pending: dict[tuple[Any, ...], concurrent.futures.Future[dict[str, Any]]] = {}
        self._builder = concurrent.futures.ThreadPoolExecutor(2, "public-views")
        self._lock = threading.Lock()

    def keys(self) -> dict[str, Any]:
        """The keys this server states: the log's and its witnesses'. A reader compares
        them with those the chair publishes elsewhere and pins them in their browser."""
        log_vkey = (self.ledger.tables.get_meta("log_vkey") or "").strip()
        return {
            "log": log_vkey,
            "origin": self.ledger.origin(),
            "witnesses": [w.key.encode() for w in self.config.witnesses],
        }

    def plan(self) -> dict[str, Any]:
        return self._view(("plan",), lambda at: public.plan_view(self.ledger, at.size, self._who()))

    def recommendation(self, number: int) -> dict[str, Any]:
        return self._view(
            ("recommendation", number),
            lambda at: public.recommendation_view(self.ledger, number, at.size, self._who()),
        )

    def agency(self, agency: str) -> dict[str, Any]:
        return self._view(
            ("agency", agency), lambda at: public.agency_view(self.ledger, agency, at.size)
        )

    def _view(self, key: tuple[Any, ...], build: Callable[[PageCheckpoint], Any]) -> dict[str, Any]:
        """The view at the newest checkpoint, built once however many ask at once. A
        build that takes longer than FRESH_WAIT (a long log: seconds at 1M entries)
        leaves readers with the view at the checkpoint before, which is just as proven
        and says which checkpoint it is, until the new one is ready."""
        at = page_checkpoint(self.ledger)
        if at is None:
            raise NothingPublished("the log has no signed checkpoint yet")
        cache_key = (*key, at.size, at.cosigned.tree_size if at.cosigned else None)
        with self._lock:
            found = self._cache.get(cache_key)
            if found is not None:
                self._cache.move_to_end(cache_key)
                return found
            pending = self._pending.get(cache_key)
            if pending is None:
                pending = self._builder.submit(self._build, key, cache_key, at, build)
                self._pending[cache_key] = pending
            older = self._latest.get(key)
        try:
            return pending.result(timeout=FRESH_WAIT if older is not None else None)
        except concurrent.futures.TimeoutError:
            assert older is not None
            return older

    def _build(
        self,
        key: tuple[Any, ...],
        cache_key: tuple[Any, ...],
        at: PageCheckpoint,
        build: Callable[[PageCheckpoint], Any],
    ) -> dict[str, Any]:
        try:
            view = build(at)
            data = view if isinstance(view, dict) else view.to_json()
            leaves: set[int] = getattr(view, "leaves", set())
            found = {
                "view": data,
                "proofs": proof_material(self.ledger, at, leaves),
                "keys": self.keys(),
            }
        finally:
            with self._lock:
                self._pending.pop(cache_key, None)
        with self._lock:
            self._cache[cache_key] = found
            self._latest[key] = found
            while len(self._cache) > CACHED_VIEWS:
                self._cache.popitem(last=False)
            while len(self._latest) > CACHED_VIEWS:
                self._latest.pop(next(iter(self._latest)))
        return found

    def _who(self) -> public.Who:
        directory = self.ledger.directory()
        users = directory.users if directory is not None else {}

        def who(user_id: str, signed_at: str) -> tuple[str, str | None]:
            user = users.get(user_id)
            if user is None:
                return ("unknown", None)
            role, agency = user.role_at(datetime.fromisoformat(signed_at))
            return (role.value, agency)

        return who


_views_lock = threading.Lock()


def views_of(app_state: Any, ledger: Ledger, config: LedgerConfig) -> PublicViews:
    """The app's one PublicViews (made on first use)."""
    with _views_lock:
        found = getattr(app_state, "public_views", None)
        if found is None or found.ledger is not ledger:
            found = PublicViews(ledger, config)
            app_state.public_views = found
        return found
