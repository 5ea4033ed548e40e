"""Load and check chain files (``chain.yaml`` plus ``schemas/<type>.json`` beside it).

A chain file is checked completely before anything is built: every problem is reported with its
``file:line:column`` and dotted path, and a file with any problem never loads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from ketenherstel.chain._business_keys import read_business_key
from ketenherstel.chain._dependencies import Declared, check_dependencies, read_depends_on
from ketenherstel.chain._nodes import NodeReader
from ketenherstel.chain._schema_files import SCHEMA_DIALECT, load_schema
from ketenherstel.chain.errors import ChainFileError, ChainProblem
from ketenherstel.chain.model import (
    OIN_PATTERN,
    SYSTEM_PATTERN,
    Chain,
    Deadline,
    MessageType,
    Partner,
    Phase,
    Process,
    parse_iso_duration,
)

__all__ = [
    "BUILTIN_CHAIN_PATH",
    "SCHEMA_DIALECT",
    "check_chain_file",
    "check_type_name",
    "load_chain",
]

BUILTIN_CHAIN_PATH = Path(__file__).with_name("data") / "chain.yaml"
"""The chain file shipped with the package."""


_SEMVER = re.compile(
    r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)
_KEY = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_KIND = _KEY
_LABEL = re.compile(r"[a-z](?:[a-z0-9-]*[a-z0-9])?")
_VERSION_LABEL = re.compile(r"v[0-9]+")


def load_chain(path: Path | None = None) -> Chain:
    """Load a chain file; ``None`` loads the built-in chain.

    Raises :class:`ChainFileError` listing every problem when the file has any.
    """
    chain, problems = _read(BUILTIN_CHAIN_PATH if path is None else Path(path))
    if problems or chain is None:
        raise ChainFileError(problems)
    return chain


def check_chain_file(path: Path) -> list[ChainProblem]:
    """Every problem of a chain file and its schema files; empty when it would load."""
    return _read(Path(path))[1]


def check_type_name(name: str) -> str | None:
    """Why ``name`` is not a good message type name, or None when it is.

    Reverse-DNS, lowercase, at least two labels, at most one version suffix ``.vN`` at the end.
    """
    if name != name.lower():
        return "must be lowercase"
    labels = name.split(".")
    versions = [i for i, label in enumerate(labels) if _VERSION_LABEL.fullmatch(label)]
    if len(versions) > 1:
        return "has more than one version suffix; keep one .vN at the end"
    if versions and versions[0] != len(labels) - 1:
        return "has its version suffix in the middle; the .vN suffix goes last"
    names = labels[:-1] if versions else labels
    if len(names) < 2:
        return "is not reverse-DNS (e.g. nl.strafrechtketen.vervolging.sepot-beslist.v1)"
    bad = [label for label in names if _LABEL.fullmatch(label) is None]
    if bad:
        return f"has an invalid label {bad[0]!r}; use a-z, 0-9 and inner hyphens"
    return None


@dataclass(slots=True)
class _Ctx:
    reader: NodeReader
    chain_dir: Path


def _read(path: Path) -> tuple[Chain | None, list[ChainProblem]]:
    reader = NodeReader(file=path.name)
    try:
        data = path.read_bytes()
    except OSError as exc:
        reader.add(None, "", f"cannot read the chain file {path}: {exc}")
        return None, reader.problems()
    text = reader.decode(data)
    if text is None:
        return None, reader.problems()
    root = reader.compose(
        text, empty="the file is empty; expected version, partners, processes, ..."
    )
    if root is None:
        return None, reader.problems()
    ctx = _Ctx(reader, path.parent)
    chain = _chain(ctx, root)
    if reader.has_problems:
        return None, reader.problems()
    return chain, []


def _chain(ctx: _Ctx, root: yaml.Node) -> Chain | None:
    reader = ctx.reader
    top = reader.mapping(root, "", required=("version", "partners", "processes", "message_types"))
    if top is None:
        return None
    version = None
    if "version" in top:
        version = reader.string(
            top["version"][1], "version", pattern=_SEMVER, expected="a semantic version (1.2.3)"
        )
    partners = _partners(ctx, top["partners"][1]) if "partners" in top else None
    processes = _processes(ctx, top["processes"][1]) if "processes" in top else None
    types: list[MessageType] = []
    if "message_types" in top:
        # references are checked against every declared key, so one broken partner or
        # process definition does not also turn each reference to it into a problem
        types = _message_types(
            ctx,
            top["message_types"][1],
            _declared(top["partners"][1]) if "partners" in top else None,
            _declared(top["processes"][1]) if "processes" in top else None,
            processes,
        )
    if version is None or partners is None or processes is None:
        return None
    return Chain(
        version=version,
        partners=tuple(partners.values()),
        processes=tuple(processes.values()),
        message_types=tuple(types),
    )


def _declared(node: yaml.Node) -> set[str] | None:
    """The string keys of a mapping node (valid or not), or None when it is no mapping."""
    if not isinstance(node, yaml.MappingNode):
        return None
    return {key.value for key, _ in node.value if isinstance(key, yaml.ScalarNode)}


def _partners(ctx: _Ctx, node: yaml.Node) -> dict[str, Partner] | None:
    reader = ctx.reader
    entries = reader.mapping(node, "partners", open_keys=True)
    if entries is None:
        return None
    if not entries:
        reader.add_at(node, "partners", "must define at least one partner")
    partners: dict[str, Partner] = {}
    oins: dict[str, tuple[str, int]] = {}
    for key, (key_node, value) in entries.items():
        path = f"partners.{key}"
        key_ok = _check_key(reader, key, key_node, path)
        fields = reader.mapping(
            value, path, required=("name", "oin", "kind", "systems", "description")
        )
        if fields is None:
            continue
        name = _opt_str(reader, fields, "name", path, max_length=200)
        oin = _opt_str(reader, fields, "oin", path, pattern=OIN_PATTERN, expected="20 digits")
        kind = _opt_str(reader, fields, "kind", path, pattern=_KIND, expected="a kebab-case word")
        description = _opt_str(reader, fields, "description", path)
        systems = None
        if "systems" in fields:
            systems = reader.string_list(
                fields["systems"][1],
                f"{path}.systems",
                pattern=SYSTEM_PATTERN,
                expected="a system name (a-z, 0-9, hyphens; at most 63 characters)",
            )
        if oin is not None:
            oin_node = fields["oin"][1]
            if oin in oins:
                other, line = oins[oin]
                reader.add_at(
                    oin_node, f"{path}.oin", f"OIN {oin} is already used by {other!r} (line {line})"
                )
            else:
                oins[oin] = (key, oin_node.start_mark.line + 1)
        if key_ok and name and oin and kind and description and systems:
            partners[key] = Partner(
                key=key,
                name=name,
                oin=oin,
                kind=kind,
                systems=tuple(value for value, _, _ in systems),
                description=description,
            )
    return partners


def _processes(ctx: _Ctx, node: yaml.Node) -> dict[str, Process] | None:
    reader = ctx.reader
    entries = reader.mapping(node, "processes", open_keys=True)
    if entries is None:
        return None
    if not entries:
        reader.add_at(node, "processes", "must define at least one process")
    processes: dict[str, Process] = {}
    for key, (key_node, value) in entries.items():
        path = f"processes.{key}"
        key_ok = _check_key(reader, key, key_node, path)
        fields = reader.mapping(
            value, path, required=("name", "phase", "order", "deadline", "description")
        )
        if fields is None:
            continue
        name = _opt_str(reader, fields, "name", path, max_length=200)
        description = _opt_str(reader, fields, "description", path)
        phase = _phase(reader, fields, path)
        order = reader.integer(fields["order"][1], f"{path}.order") if "order" in fields else None
        deadline_ok, deadline = False, None
        if "deadline" in fields:
            deadline_ok, deadline = _deadline(reader, fields["deadline"][1], f"{path}.deadline")
        if key_ok and name and description and phase and order is not None and deadline_ok:
            processes[key] = Process(
                key=key,
                name=name,
                phase=phase,
                order=order,
                deadline=deadline,
                description=description,
            )
    return processes


def _phase(
    reader: NodeReader, fields: dict[str, tuple[yaml.Node, yaml.Node]], path: str
) -> Phase | None:
    value = _opt_str(reader, fields, "phase", path)
    if value is None:
        return None
    try:
        return Phase(value)
    except ValueError:
        allowed = ", ".join(phase.value for phase in Phase)
        reader.add_at(
            fields["phase"][1],
            f"{path}.phase",
            f"unknown phase {value!r}; expected one of: {allowed}",
        )
        return None


def _deadline(reader: NodeReader, node: yaml.Node, path: str) -> tuple[bool, Deadline | None]:
    """(True, the deadline or None for an explicit null), or (False, None) after a problem."""
    if reader.is_null(node):
        return True, None
    fields = reader.mapping(node, path, required=("duration", "text"), optional=("legal_basis",))
    if fields is None:
        return False, None
    duration = _opt_str(reader, fields, "duration", path, max_length=40)
    if duration is not None:
        try:
            parse_iso_duration(duration)
        except ValueError as exc:
            reader.add_at(fields["duration"][1], f"{path}.duration", str(exc))
            duration = None
    text = _opt_str(reader, fields, "text", path, max_length=500)
    legal_basis = None
    if "legal_basis" in fields and not reader.is_null(fields["legal_basis"][1]):
        legal_basis = _opt_str(reader, fields, "legal_basis", path, max_length=200)
        if legal_basis is None:
            return False, None
    if duration is None or text is None:
        return False, None
    return True, Deadline(duration=duration, text=text, legal_basis=legal_basis)


def _message_types(
    ctx: _Ctx,
    node: yaml.Node,
    partners: set[str] | None,
    processes: set[str] | None,
    process_defs: dict[str, Process] | None,
) -> list[MessageType]:
    reader = ctx.reader
    if not isinstance(node, yaml.SequenceNode):
        reader.add_at(node, "message_types", "expected a list of message types")
        return []
    if not node.value:
        reader.add_at(node, "message_types", "must define at least one message type")
    types: list[MessageType] = []
    seen: dict[str, str] = {}
    dependencies: list[Declared] = []
    type_processes: dict[str, str] = {}
    for index, item in enumerate(node.value):
        path = f"message_types[{index}]"
        fields = reader.mapping(
            item,
            path,
            required=(
                "type",
                "name",
                "process",
                "senders",
                "receivers",
                "personal_data",
                "business_key",
            ),
            optional=("depends_on",),
        )
        if fields is None:
            continue
        type_name = _type_name(reader, fields, path, seen)
        name = _opt_str(reader, fields, "name", path, max_length=200)
        process = _opt_str(reader, fields, "process", path)
        if process is not None and processes is not None and process not in processes:
            reader.add_at(fields["process"][1], f"{path}.process", f"unknown process {process!r}")
            process = None
        senders = _parties(reader, fields, "senders", path, partners)
        receivers = _parties(reader, fields, "receivers", path, partners)
        if senders is not None and receivers is not None:
            for receiver, receiver_node, receiver_path in receivers:
                if any(receiver == sender for sender, _, _ in senders):
                    reader.add_at(
                        receiver_node,
                        receiver_path,
                        f"partner {receiver!r} is both a sender and a receiver of this type",
                    )
        personal = None
        if "personal_data" in fields:
            personal = reader.boolean(fields["personal_data"][1], f"{path}.personal_data")
        schema = None
        if type_name is not None:
            schema = load_schema(
                reader, ctx.chain_dir, type_name, fields["type"][1], f"{path}.type"
            )
        business_key = None
        if "business_key" in fields:
            business_key = read_business_key(
                reader, fields["business_key"][1], f"{path}.business_key", type_name, schema
            )
        depends_on: tuple[tuple[str, yaml.Node, str], ...] | None = ()
        if "depends_on" in fields:
            depends_on = read_depends_on(reader, fields["depends_on"][1], f"{path}.depends_on")
        if depends_on:
            dependencies.append(Declared(type_name, process, depends_on))
        if type_name is not None and process is not None:
            type_processes[type_name] = process
        if (
            type_name
            and name
            and process
            and senders
            and receivers
            and personal is not None
            and schema is not None
            and business_key is not None
            and depends_on is not None
        ):
            types.append(
                MessageType(
                    type=type_name,
                    name=name,
                    process=process,
                    senders=tuple(key for key, _, _ in senders),
                    receivers=tuple(key for key, _, _ in receivers),
                    personal_data=personal,
                    schema=schema,
                    business_key=business_key,
                    depends_on=tuple(entry for entry, _, _ in depends_on),
                )
            )
    check_dependencies(reader, dependencies, _declared_types(node), type_processes, process_defs)
    return types


def _declared_types(node: yaml.SequenceNode) -> set[str]:
    """Every type name written in the message type list, whether its definition is valid or not."""
    names: set[str] = set()
    for item in node.value:
        if not isinstance(item, yaml.MappingNode):
            continue
        for key, value in item.value:
            is_type = isinstance(key, yaml.ScalarNode) and key.value == "type"
            if is_type and isinstance(value, yaml.ScalarNode):
                names.add(value.value)
    return names


def _type_name(
    reader: NodeReader,
    fields: dict[str, tuple[yaml.Node, yaml.Node]],
    path: str,
    seen: dict[str, str],
) -> str | None:
    type_name = _opt_str(reader, fields, "type", path, max_length=200)
    if type_name is None:
        return None
    type_node = fields["type"][1]
    reason = check_type_name(type_name)
    if reason is not None:
        reader.add_at(type_node, f"{path}.type", f"type name {type_name!r} {reason}")
        return None
    if type_name in seen:
        reader.add_at(
            type_node, f"{path}.type", f"type {type_name!r} is already defined at {seen[type_name]}"
        )
        return None
    seen[type_name] = f"line {type_node.start_mark.line + 1} ({path})"
    return type_name


def _parties(
    reader: NodeReader,
    fields: dict[str, tuple[yaml.Node, yaml.Node]],
    key: str,
    path: str,
    partners: set[str] | None,
) -> list[tuple[str, yaml.Node, str]] | None:
    if key not in fields:
        return None
    items = reader.string_list(fields[key][1], f"{path}.{key}")
    if items is None:
        return None
    known = []
    for value, node, item_path in items:
        if partners is not None and value not in partners:
            reader.add_at(node, item_path, f"unknown partner {value!r}")
            continue
        known.append((value, node, item_path))
    return known if len(known) == len(items) else None


def _check_key(reader: NodeReader, key: str, key_node: yaml.Node, path: str) -> bool:
    if _KEY.fullmatch(key) is None or len(key) > 63:
        reader.add_at(key_node, path, f"key {key!r} must be kebab-case (a-z, 0-9, hyphens)")
        return False
    return True


def _opt_str(
    reader: NodeReader,
    fields: dict[str, tuple[yaml.Node, yaml.Node]],
    key: str,
    path: str,
    *,
    pattern: re.Pattern[str] | None = None,
    expected: str = "",
    max_length: int = 2000,
) -> str | None:
    if key not in fields:
        return None
    return reader.string(
        fields[key][1], f"{path}.{key}", pattern=pattern, expected=expected, max_length=max_length
    )
