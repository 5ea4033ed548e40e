"""The composition root: settings in, a wired exchange out. Nothing connects at import time."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ketenherstel.chain import Chain, load_chain
from ketenherstel.exchange.service import Exchange
from ketenherstel.golive.priority import priorities
from ketenherstel.registry import Registry, RegistryMismatch, open_registry_db
from ketenherstel.settings import Settings
from ketenherstel.store import Store, open_store, sqlite_file


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
    location = settings.registry_location()
    file = sqlite_file(location)
    made = file if file is not None and not file.exists() else None
    # An empty file given as the registry is made a registry; refused, it is empty again.
    emptied = file if file is not None and file.is_file() and file.stat().st_size == 0 else None
    try:
        if settings.registry_url and made is not None and not made.parent.is_dir():
            raise RegistryMismatch(f"registry {location}: there is no directory {made.parent}")
        registry_db = open_registry_db(location, synchronous=settings.synchronous)
        try:
            # Justid's registry consumes Justid's deliveries from this exchange (decision
            # 0010); the file belongs to this store (decision 0014).
            registry = Registry(registry_db, chain, exchange=exchange)
        except BaseException:
            registry_db.close()
            raise
    except BaseException:
        exchange.close()
        store.close()
        if made is not None:  # a refused registry file leaves nothing behind
            for suffix in ("", "-wal", "-shm"):
                Path(f"{made}{suffix}").unlink(missing_ok=True)
        if emptied is not None:
            emptied.write_bytes(b"")
            for suffix in ("-wal", "-shm"):
                Path(f"{emptied}{suffix}").unlink(missing_ok=True)
        raise
    return Runtime(
        settings=settings, chain=chain, store=store, exchange=exchange, registry=registry
    )
