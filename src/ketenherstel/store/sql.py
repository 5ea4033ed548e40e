"""The SQL shared by the SQLite and PostgreSQL adapters.

Statements are written with `?` placeholders; the PostgreSQL adapter rewrites them to `%s`.
Each public method is one transaction. `accept` takes several submissions at once (group
commit) and isolates each one in a savepoint, so one rejected submission never touches another.
The parts live in `_sql_admin`, `_sql_accept`, `_sql_deliver`, `_sql_isolation`, `_sql_trail`
and more; an adapter subclasses `SqlStore` and provides the hooks of `_sqlbase.SqlBase`.
"""

from __future__ import annotations

from ketenherstel.store._sql_accept import AcceptSql
from ketenherstel.store._sql_admin import AdminSql
from ketenherstel.store._sql_deliver import DeliverySql
from ketenherstel.store._sql_isolation import IsolationSql
from ketenherstel.store._sql_ledger import LedgerSql
from ketenherstel.store._sql_manual import ManualSql
from ketenherstel.store._sql_trail import TrailSql
from ketenherstel.store._sqlbase import Cursor
from ketenherstel.store.ports import ALL_SENDERS


class SqlStore(TrailSql, AdminSql, IsolationSql, AcceptSql, DeliverySql, ManualSql, LedgerSql):
    """Everything but connections, placeholders and id allocation."""


__all__ = ["ALL_SENDERS", "Cursor", "SqlStore"]
