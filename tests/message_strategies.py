"""Hypothesis strategies for pvd messages, shared by the Python-only property tests and
the Solidity/Python parity tests."""

from hypothesis import strategies as st

from pvd.protocol.messages import (
    Message,
    Outcome,
    PaymentHeld,
    PaymentSettled,
    SettlementResult,
    TradeOutcome,
)

addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
words = st.binary(min_size=32, max_size=32)
uint32 = st.integers(0, 2**32 - 1)
uint64 = st.integers(0, 2**64 - 1)
uint256 = st.integers(0, 2**256 - 1)

bodies = st.one_of(
    st.builds(PaymentHeld, words, words, addresses, addresses, addresses, uint256, uint64),
    st.builds(
        TradeOutcome,
        words,
        words,
        st.sampled_from([Outcome.DELIVERED, Outcome.EXPIRED, Outcome.REJECTED]),
        addresses,
        addresses,
        uint256,
        uint64,
    ),
    st.builds(
        PaymentSettled,
        words,
        words,
        st.sampled_from([SettlementResult.PAID, SettlementResult.REFUNDED]),
        uint256,
    ),
)

messages = st.builds(Message.of, uint32, addresses, uint32, addresses, uint64, bodies)
