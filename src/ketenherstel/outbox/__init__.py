"""The edge outbox: a partner keeps and forwards its own messages, also while cut off.

A partner runs it inside its own network with its own SQLite file (`store`). Its systems write
CloudEvents to it (`http`, `cli`); `agent.Outbox` assigns each source's gap-free `sequence`,
forwards to the exchange when it answers, and exports signed offline bundles (`bundle`,
`keys`) that the exchange verifies with `verify_bundle` before importing them.

This package root exports only the pure parts (bundles, keys, errors), so the exchange can
import `verify_bundle` without the agent's HTTP client; the agent is
`ketenherstel.outbox.agent.Outbox`. Errors are drawn in `ketenherstel.outbox.errors`.
"""

from ketenherstel.outbox.bundle import (
    FORMAT,
    BuiltBundle,
    BundleHeader,
    LastImported,
    VerifiedBundle,
    build_bundle,
    verify_bundle,
)
from ketenherstel.outbox.errors import (
    BundleError,
    BundleRefusal,
    ConflictingWrite,
    ExportError,
    KeyFileError,
    OutboxConfigError,
    OutboxError,
    WriteProblem,
    WriteRefused,
)
from ketenherstel.outbox.keys import key_id, parse_public_key

__all__ = [
    "FORMAT",
    "BuiltBundle",
    "BundleError",
    "BundleHeader",
    "BundleRefusal",
    "ConflictingWrite",
    "ExportError",
    "KeyFileError",
    "LastImported",
    "OutboxConfigError",
    "OutboxError",
    "VerifiedBundle",
    "WriteProblem",
    "WriteRefused",
    "build_bundle",
    "key_id",
    "parse_public_key",
    "verify_bundle",
]
