"""The composition root: settings in, a wired exchange out. Nothing connects at import time."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ketenherstel.chain import Chain, load_chain
from ketenherstel.exchange.service import Exchange
from ketenherstel.golive.priority import priorities
from ketenherstel.registry import Registry, open_registry_db
from ketenherstel.settings import Settings
from ketenherstel.store import Store, open_store


@dataclass(slots=True)
class Runtime:
    settings: Settings
    chain: Chain
    store: Store
    exchange: Exchange
    registry: Registry

    def close(self) -> None:
        self.exchange.close()
        self.registry.db.close()
        self.store.close()


def bootstrap(settings: Settings) -> Runtime:
    chain = load_chain(Path(settings.chain_file) if settings.chain_file else None)
    store = open_store(settings.store_url, synchronous=settings.synchronous)
    # The computed order, then what a go-live plan set last (kept in the store, decision 0009).
    ranks = {**priorities(chain), **store.type_priorities()}
    exchange = Exchange(store=store, chain=chain, settings=settings.exchange, priorities=ranks)
    try:
        registry_db = open_registry_db(
            settings.registry_location(), synchronous=settings.synchronous
        )
    except BaseException:
        exchange.close()
        store.close()
        raise
    # Justid's registry consumes Justid's deliveries from this exchange (decision 0010).
    registry = Registry(registry_db, chain, exchange=exchange)
    return Runtime(
        settings=settings, chain=chain, store=store, exchange=exchange, registry=registry
    )
