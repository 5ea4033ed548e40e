"""A chain goes to another process (the scenario's traffic generator) by pickle, also after its
validators were compiled."""

from __future__ import annotations

import pickle

from ketenherstel.chain import Chain


def test_a_chain_with_compiled_validators_pickles(chain: Chain) -> None:
    type_name = chain.message_types[0].type
    chain.data_validator(type_name)  # compiled now
    chain.validate_data(type_name, {})
    copy = pickle.loads(pickle.dumps(chain))
    assert copy.validate_data(type_name, {}) == chain.validate_data(type_name, {})
