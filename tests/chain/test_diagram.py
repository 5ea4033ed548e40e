"""The chain as a Mermaid flowchart."""

from __future__ import annotations

import dataclasses

from ketenherstel.chain import Chain, Partner, Phase, mermaid


def test_the_diagram_is_a_left_to_right_flowchart_with_every_partner(chain: Chain) -> None:
    text = mermaid(chain)
    assert text.startswith("flowchart LR\n")
    for partner in chain.partners:
        assert f'["{partner.name}"]' in text


def test_every_message_type_is_a_labelled_edge(chain: Chain) -> None:
    text = mermaid(chain)
    for mt in chain.message_types:
        assert f'-->|"{mt.name}"|' in text


def test_phases_are_subgraphs_in_procedure_order_with_registration_beside_them(
    chain: Chain,
) -> None:
    lines = mermaid(chain).splitlines()
    subgraphs = [
        line.split()[1].split("[")[0] for line in lines if line.lstrip().startswith("subgraph")
    ]
    assert subgraphs == [phase.value for phase in (*Phase.procedure_order(), Phase.REGISTRATIE)]
    assert any("naast alle fasen" in line for line in lines if "subgraph registratie" in line)
    assert sum(line.strip() == "end" for line in lines) == len(subgraphs)


def test_partners_without_traffic_still_appear_and_quotes_are_escaped(chain: Chain) -> None:
    lonely = Partner(
        key="raad-voor-de-kinderbescherming",
        name='Raad voor de "Kinderbescherming"',
        oin="00000001003214399000",
        kind="advisory",
        systems=("rvdk",),
        description="Not part of any flow here.",
    )
    bigger = dataclasses.replace(chain, partners=(*chain.partners, lonely))
    text = mermaid(bigger)
    assert (
        'partner__raad_voor_de_kinderbescherming["Raad voor de #quot;Kinderbescherming#quot;"]'
        in text
    )
