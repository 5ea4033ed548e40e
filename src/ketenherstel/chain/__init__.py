"""The criminal justice chain as data: partners, processes, message types and routing.

The chain is loaded from data files (``data/chain.yaml`` and ``data/schemas/<type>.json``), so a
new partner or message type needs no code change. Processes follow the criminal procedure
(opsporing → vervolging → berechting → tenuitvoerlegging); the registration of judicial data
(``Phase.REGISTRATIE``) runs beside all four phases rather than after them. Each message type
names its business key (the data fields that identify one fact, :meth:`Chain.business_key`) and
the types it depends on (:meth:`Chain.dependencies_of`), both as data.

Exceptions::

    ChainError                 root of everything this package raises
    ├── ChainFileError         a chain file has problems (.problems lists every one); not loaded
    └── ChainLookupError       unknown partner, process, message type or system (a LookupError)

This package imports only the standard library, PyYAML, jsonschema-rs and jsonschema.
"""

from ketenherstel.chain._validation import DataProblem, json_path
from ketenherstel.chain.diagram import mermaid
from ketenherstel.chain.errors import ChainError, ChainFileError, ChainLookupError, ChainProblem
from ketenherstel.chain.loader import (
    BUILTIN_CHAIN_PATH,
    check_chain_file,
    check_type_name,
    load_chain,
)
from ketenherstel.chain.model import (
    Chain,
    Deadline,
    MessageType,
    Partner,
    Phase,
    Process,
    compile_validators,
    parse_iso_duration,
    parse_source_urn,
    source_urn,
)

__all__ = [
    "BUILTIN_CHAIN_PATH",
    "Chain",
    "ChainError",
    "ChainFileError",
    "ChainLookupError",
    "ChainProblem",
    "DataProblem",
    "Deadline",
    "MessageType",
    "Partner",
    "Phase",
    "Process",
    "check_chain_file",
    "check_type_name",
    "compile_validators",
    "json_path",
    "load_chain",
    "mermaid",
    "parse_iso_duration",
    "parse_source_urn",
    "source_urn",
]
