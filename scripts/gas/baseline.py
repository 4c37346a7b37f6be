"""Gas baseline: a plain OpenZeppelin ERC-20 transfer, measured in the same run as the
yuan token so that the two can be compared (issue 3's +8k budget)."""

from brownie import PlainERC20, accounts


def measure() -> dict[str, int]:
    holder, other = accounts[0], accounts[1]
    token = PlainERC20.deploy(holder, 10**12, {"from": holder})
    token.transfer(other, 1, {"from": holder})  # both balances non-zero, as in steady use
    tx = token.transfer(other, 100, {"from": holder})
    return {"oz_erc20_transfer": tx.gas_used}
