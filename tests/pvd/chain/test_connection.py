"""Embedded chains: two in-process eth-tester chains, told apart by domain id and genesis."""

from pvd.chain.connection import dev_accounts, embedded_chain


def test_two_embedded_chains_share_a_chain_id_but_not_a_genesis():
    payment, business = embedded_chain("payment", 1), embedded_chain("business", 2)
    a, b = payment.identity(), business.identity()
    assert a.chain_id == b.chain_id  # eth-tester's chain id cannot be chosen
    assert a.genesis_hash != b.genesis_hash
    assert (a.domain_id, b.domain_id) == (1, 2)


def test_dev_accounts_are_funded_and_sign_locally():
    chain = embedded_chain("payment", 1)
    sender, receiver = dev_accounts()[0], dev_accounts()[1]
    assert sender.address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # anvil's first
    before = chain.w3.eth.get_balance(receiver.address)
    receipt = chain.wait(
        chain.w3.eth.send_transaction({"from": sender.address, "to": receiver.address, "value": 5})
    )
    assert receipt["status"] == 1
    assert chain.w3.eth.get_balance(receiver.address) == before + 5


def test_advance_time_moves_block_time_forward():
    chain = embedded_chain("business", 2)
    target = chain.now() + 3_600
    chain.advance_time_to(target)
    sender = chain.accounts[0].address
    receipt = chain.wait(chain.w3.eth.send_transaction({"from": sender, "to": sender}))
    assert chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"] >= target
