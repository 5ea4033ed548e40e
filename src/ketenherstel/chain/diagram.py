"""The chain drawn as a Mermaid flowchart (text; render it with any Mermaid renderer)."""

from __future__ import annotations

from ketenherstel.chain.model import Chain, MessageType, Phase

__all__ = ["mermaid"]


def mermaid(chain: Chain) -> str:
    """A Mermaid ``flowchart LR``: partners as nodes, message types as labelled edges.

    Each phase is a subgraph (the registration track last, labelled as running beside all
    phases) holding the partners that exchange that phase's message types, so a partner appears
    once per phase it takes part in. Partners without any message type stand on their own.
    """
    lines = ["flowchart LR"]
    rank = {process.key: i for i, process in enumerate(chain.processes_in_order())}
    types = sorted(chain.message_types, key=lambda mt: rank.get(mt.process, len(rank)))
    involved: set[str] = set()
    for phase in (*Phase.procedure_order(), Phase.REGISTRATIE):
        in_phase = [mt for mt in types if chain.process(mt.process).phase is phase]
        if not in_phase:
            continue
        lines.append(f'    subgraph {phase.value}["{_text(phase.label)}"]')
        lines.append("        direction LR")
        members = _members(in_phase)
        involved.update(members)
        for partner in chain.partners:
            if partner.key in members:
                lines.append(f'        {_node(phase, partner.key)}["{_text(partner.name)}"]')
        for mt in in_phase:
            for sender in mt.senders:
                for receiver in chain.receivers_for(mt.type, sender):
                    lines.append(
                        f'        {_node(phase, sender)} -->|"{_text(mt.name)}"| '
                        f"{_node(phase, receiver)}"
                    )
        lines.append("    end")
    for partner in chain.partners:
        if partner.key not in involved:
            lines.append(f'    {_node(None, partner.key)}["{_text(partner.name)}"]')
    return "\n".join(lines) + "\n"


def _members(types: list[MessageType]) -> set[str]:
    return {key for mt in types for key in (*mt.senders, *mt.receivers)}


def _node(phase: Phase | None, partner_key: str) -> str:
    key = partner_key.replace("-", "_")
    return f"partner__{key}" if phase is None else f"{phase.value}__{key}"


def _text(text: str) -> str:
    return text.replace('"', "#quot;").replace("\n", " ")
