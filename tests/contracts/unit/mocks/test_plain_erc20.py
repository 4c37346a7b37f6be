"""The gas baseline behaves as a plain ERC-20."""


def test_transfer_moves_the_balance(PlainERC20, deployer, stranger):
    token = PlainERC20.deploy(deployer, 1_000, {"from": deployer})
    tx = token.transfer(stranger, 400, {"from": deployer})
    assert tx.events["Transfer"] == {"from": deployer, "to": stranger, "value": 400}
    assert token.balanceOf(deployer) == 600
    assert token.balanceOf(stranger) == 400
