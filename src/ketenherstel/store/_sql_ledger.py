"""Whole-store counts that prove nothing was lost or applied twice (the scenario's last word).

Read-only and one transaction, so the counts agree with each other.
"""

from __future__ import annotations

from ketenherstel.store._sqlbase import SqlBase
from ketenherstel.store.ports import LedgerCounts


class LedgerSql(SqlBase):
    def ledger_counts(self) -> LedgerCounts:
        with self._tx() as cur:
            per_source = {
                str(source): int(n)
                for source, n in self._x(
                    cur, "SELECT source, COUNT(*) FROM messages GROUP BY source"
                ).fetchall()
            }
            states = {
                str(state): int(n)
                for state, n in self._x(
                    cur, "SELECT state, COUNT(*) FROM deliveries GROUP BY state"
                ).fetchall()
            }
            held, quarantined = self._x(
                cur,
                "SELECT COALESCE(SUM(held), 0), COALESCE(SUM(CASE WHEN quarantined <> 0 "
                "THEN 1 ELSE 0 END), 0) FROM deliveries WHERE state IN ('ready', 'leased')",
            ).fetchone()
            # One row per (message, receiver) is the schema's promise; count any breach.
            twice_by_id = self._x(
                cur,
                "SELECT COUNT(*) FROM (SELECT pos, receiver FROM deliveries "
                "GROUP BY pos, receiver HAVING COUNT(*) > 1) t",
            ).fetchone()[0]
            # The same fact (business key) acknowledged more than once by one receiver, other
            # than as a supersession that replaces the earlier one.
            twice_by_key = self._x(
                cur,
                "SELECT COUNT(*) FROM (SELECT d.receiver, m.bkey FROM deliveries d "
                "JOIN messages m ON m.pos = d.pos "
                "WHERE d.state = 'acked' AND m.bkey IS NOT NULL AND d.supersedes IS NULL "
                "GROUP BY d.receiver, m.bkey HAVING COUNT(*) > 1) t",
            ).fetchone()[0]
            without_delivery = self._x(
                cur,
                "SELECT COUNT(*) FROM messages m WHERE NOT EXISTS "
                "(SELECT 1 FROM deliveries d WHERE d.pos = m.pos)",
            ).fetchone()[0]
        return LedgerCounts(
            messages=per_source,
            deliveries=states,
            pending_held=int(held),
            pending_quarantined=int(quarantined),
            applied_twice_by_id=int(twice_by_id),
            applied_twice_by_key=int(twice_by_key),
            messages_without_delivery=int(without_delivery),
        )
