"""What every simulated partner's systems say they sent: the ``sent`` ledger reconciliation
compares with the exchange (decision 0011).

One Parquet row per event a partner submitted (also forwarded from its outbox, and its re-sends
under new ids), with the business key and the data hash computed as the exchange computes
them, so the two sides are comparable. Written in row groups as the scenario runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from ketenherstel.chain import Chain
from ketenherstel.reconcile.ledger import ARROW_SCHEMA, event_row, to_arrow

__all__ = ["SentLedger"]

_GROUP = 50_000


class SentLedger:
    """Append-only; ``close`` writes the last row group."""

    def __init__(self, path: Path, chain: Chain) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.chain = chain
        self.rows = 0
        self._writer = pq.ParquetWriter(path, ARROW_SCHEMA)
        self._buffer: list[tuple[Any, ...]] = []

    def record(self, sender: str, events: Sequence[dict[str, Any]], at: datetime) -> None:
        seconds = at.timestamp()
        self._buffer.extend(event_row(self.chain, sender, e, seconds) for e in events)
        if len(self._buffer) >= _GROUP:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            self._writer.write_table(to_arrow(self._buffer))
            self.rows += len(self._buffer)
            self._buffer = []

    def close(self) -> None:
        self._flush()
        self._writer.close()
