"""Public views as at the newest checkpoint, with their proof material, cached.

A public view is a function of the checkpoint it is cut at (projections/public.py), so
it is built once per (view, checkpoint) and served from memory until a newer checkpoint
is signed: a crowd reading the tracker costs one build per checkpoint, not one per
reader. The cache is per process and bounded.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ledger.config import LedgerConfig
from ledger.public_proofs import PageCheckpoint, page_checkpoint, proof_material
from ledger.service import Ledger
from projections import public

CACHED_VIEWS = 256


class NothingPublished(LookupError):
    """The log has no signed checkpoint yet, so there is nothing a reader could check."""


class PublicViews:
    """Builds and caches the public views of one ledger."""

    def __init__(self, ledger: Ledger, config: LedgerConfig) -> None:
        self.ledger = ledger
        self.config = config
        self._cache: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
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
        at = page_checkpoint(self.ledger)
        if at is None:
            raise NothingPublished("the log has no signed checkpoint yet")
        cache_key = (*key, at.size, at.cosigned.tree_size if at.cosigned else None)
        with self._lock:
            found = self._cache.get(cache_key)
            if found is not None:
                self._cache.move_to_end(cache_key)
                return found
        view = build(at)
        data = view if isinstance(view, dict) else view.to_json()
        leaves: set[int] = getattr(view, "leaves", set())
        found = {
            "view": data,
            "proofs": proof_material(self.ledger, at, leaves),
            "keys": self.keys(),
        }
        with self._lock:
            self._cache[cache_key] = found
            while len(self._cache) > CACHED_VIEWS:
                self._cache.popitem(last=False)
        return found

    def _who(self) -> public.Who:
        directory = self.ledger.directory()
        users = directory.users if directory is not None else {}

        def who(user_id: str) -> tuple[str, str | None]:
            user = users.get(user_id)
            return ("unknown", None) if user is None else (user.role.value, user.agency)

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
