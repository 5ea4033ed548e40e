"""Partners, credentials and the audit log, in SQL."""

from __future__ import annotations

from ketenherstel.store._sqlbase import SqlBase
from ketenherstel.store.ports import (
    AuditRecord,
    CredentialRecord,
    NotFound,
    PartnerRecord,
    StoreError,
)


class AdminSql(SqlBase):
    """Partners, credentials and the audit log."""

    def store_id(self) -> str:
        with self._tx() as cur:
            row = self._x(cur, "SELECT value FROM store_meta WHERE key = 'store_id'").fetchone()
        if row is None:
            raise StoreError("the store has no identity (store_meta); migrate it")
        return str(row[0])

    def has_acked(self, receiver: str) -> bool:
        with self._tx() as cur:
            row = self._x(
                cur,
                "SELECT 1 FROM deliveries WHERE receiver = ? AND state = 'acked' LIMIT 1",
                (receiver,),
            ).fetchone()
        return row is not None

    def add_partner(self, *, key: str, name: str, oin: str, now: float) -> PartnerRecord:
        with self._tx() as cur:
            self._x(
                cur,
                "INSERT INTO partners (key, name, oin, webhook_url, created_at) "
                "VALUES (?, ?, ?, NULL, ?)",
                (key, name, oin, now),
            )
        return PartnerRecord(key, name, oin, None, now)

    def get_partner(self, key: str) -> PartnerRecord | None:
        with self._tx() as cur:
            row = self._x(
                cur,
                "SELECT key, name, oin, webhook_url, created_at FROM partners WHERE key = ?",
                (key,),
            ).fetchone()
        return PartnerRecord(*row) if row else None

    def list_partners(self) -> list[PartnerRecord]:
        with self._tx() as cur:
            rows = self._x(
                cur, "SELECT key, name, oin, webhook_url, created_at FROM partners ORDER BY key"
            ).fetchall()
        return [PartnerRecord(*r) for r in rows]

    def set_webhook(self, *, key: str, url: str | None) -> None:
        with self._tx() as cur:
            if (
                self._x(
                    cur, "UPDATE partners SET webhook_url = ? WHERE key = ?", (url, key)
                ).rowcount
                != 1
            ):
                raise NotFound(f"no partner {key!r}")

    _CRED_COLS = (
        "id, principal, role, partner_key, token_hash, label, created_at, revoked_at, created_by"
    )

    def add_credential(self, record: CredentialRecord) -> None:
        with self._tx() as cur:
            self._x(
                cur,
                f"INSERT INTO credentials ({self._CRED_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    record.principal,
                    record.role,
                    record.partner_key,
                    record.token_hash,
                    record.label,
                    record.created_at,
                    record.revoked_at,
                    record.created_by,
                ),
            )

    def credential_by_hash(self, token_hash: str) -> CredentialRecord | None:
        with self._tx() as cur:
            row = self._x(
                cur,
                f"SELECT {self._CRED_COLS} FROM credentials WHERE token_hash = ?",
                (token_hash,),
            ).fetchone()
        return CredentialRecord(*row) if row else None

    def list_credentials(self, principal: str | None = None) -> list[CredentialRecord]:
        with self._tx() as cur:
            if principal is None:
                rows = self._x(
                    cur, f"SELECT {self._CRED_COLS} FROM credentials ORDER BY created_at"
                ).fetchall()
            else:
                rows = self._x(
                    cur,
                    f"SELECT {self._CRED_COLS} FROM credentials WHERE principal = ? "
                    "ORDER BY created_at",
                    (principal,),
                ).fetchall()
        return [CredentialRecord(*r) for r in rows]

    def revoke_credential(self, *, credential_id: str, now: float) -> tuple[CredentialRecord, bool]:
        with self._tx() as cur:
            changed = self._x(
                cur,
                "UPDATE credentials SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (now, credential_id),
            ).rowcount
            row = self._x(
                cur,
                f"SELECT {self._CRED_COLS} FROM credentials WHERE id = ?",
                (credential_id,),
            ).fetchone()
        if row is None:
            raise NotFound(f"no credential {credential_id!r}")
        return CredentialRecord(*row), changed == 1

    def audit(self, record: AuditRecord) -> None:
        with self._tx() as cur:
            self._x(
                cur,
                "INSERT INTO audit (at, actor, action, object, detail) VALUES (?, ?, ?, ?, ?)",
                (record.at, record.actor, record.action, record.object, record.detail),
            )

    def audit_once(self, record: AuditRecord, *, key: str) -> bool:
        with self._tx() as cur:
            added = self._x(
                cur,
                "INSERT INTO audit (at, actor, action, object, detail, idempotency_key) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
                (record.at, record.actor, record.action, record.object, record.detail, key),
            ).rowcount
        return bool(added == 1)

    def audit_actors(self) -> list[str]:
        """Everyone the audit trail names (to redact them from what is published)."""
        with self._tx() as cur:
            rows = self._x(cur, "SELECT DISTINCT actor FROM audit ORDER BY actor").fetchall()
        return [str(r[0]) for r in rows]

    def audit_log(self, *, limit: int) -> list[AuditRecord]:
        with self._tx() as cur:
            rows = self._x(
                cur,
                "SELECT at, actor, action, object, detail FROM audit ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [AuditRecord(*r) for r in rows]
