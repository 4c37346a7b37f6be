"""Who is who on local development chains: each party's role name and its index among
the well-known development accounts (anvil's mnemonic: TEST KEYS ONLY, public to all,
never to hold anything of value). The same cast as `pvd demo`.

`pvd ... --as buyer` signs with these keys, and only on local chains (anvil's chain ids
that `pvd up` starts, or an embedded chain); real parties use `--key-env`/a keystore.
"""

from __future__ import annotations

from eth_account.signers.local import LocalAccount

from pvd.chain.connection import dev_account_at, dev_accounts
from pvd.errors import UserError

DEV_ROLES: dict[str, int] = {
    "central-bank": 0,  # the deployer: token admin, compliance, pauser, inbox admin
    "bank": 1,
    "buyer": 2,
    "seller": 3,
    "carrier": 4,
    "attester-1": 5,
    "attester-2": 6,
    "attester-3": 7,
    "stranger": 8,  # no role: for trying what others may not do
    "arbiter": 9,
    "relayer-1": 10,  # the relayers' gas keys (funded by `pvd up`)
    "relayer-2": 11,
    "relayer-3": 12,
}

DEV_ACCOUNTS = max(DEV_ROLES.values()) + 1


def dev_account(role: str) -> LocalAccount:
    """The development account playing `role` (UserError naming the roles otherwise)."""
    try:
        index = DEV_ROLES[role]
    except KeyError:
        raise UserError(
            f"no development account plays {role!r}: use one of {', '.join(DEV_ROLES)}"
        ) from None
    return dev_account_at(index)


def dev_role_of(address: str) -> str | None:
    """The role name of a development address (None for any other address)."""
    accounts = dev_accounts(DEV_ACCOUNTS)
    for role, index in DEV_ROLES.items():
        if accounts[index].address.lower() == address.lower():
            return role
    return None
