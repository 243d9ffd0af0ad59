# pragma version ~=0.4.3
# pragma nonreentrancy on
"""
@title AIArena Token
@custom:contract-name ArenaToken
@license MIT
@notice The ERC-20 (with EIP-2612 permit) used for bounties, stake, delegation and
        rewards in AIArena. Total supply is capped at `cap`, fixed at deployment.
        The owner grants and revokes the minter role (`set_minter`); the Emission
        contract is such a minter. Built on snekmate's `erc20` and `ownable`.
@custom:kill There is no pause or kill switch: a token must always stay transferable.
        The owner can revoke every minter and renounce ownership to freeze the supply.
"""

from snekmate.auth import ownable
from snekmate.tokens import erc20

initializes: ownable
initializes: erc20[ownable := ownable]

exports: (
    erc20.totalSupply,
    erc20.balanceOf,
    erc20.allowance,
    erc20.name,
    erc20.symbol,
    erc20.decimals,
    erc20.transfer,
    erc20.approve,
    erc20.transferFrom,
    erc20.burn,
    erc20.burn_from,
    erc20.is_minter,
    erc20.set_minter,
    erc20.permit,
    erc20.nonces,
    erc20.DOMAIN_SEPARATOR,
    erc20.eip712Domain,
    erc20.owner,
    erc20.transfer_ownership,
    erc20.renounce_ownership,
)


# @notice The maximum total supply, in wei (18 decimals).
cap: public(immutable(uint256))


@deploy
def __init__(cap_: uint256, initial_supply: uint256):
    """
    @notice Deploy the token; the deployer becomes owner and minter.
    @param cap_ Maximum total supply in wei; must be non-zero.
    @param initial_supply Tokens minted to the deployer at deployment (≤ `cap_`).
    """
    assert cap_ != 0, "token: cap is zero"
    assert initial_supply <= cap_, "token: initial supply above cap"
    cap = cap_
    ownable.__init__()
    erc20.__init__("AIArena Token", "ARENA", 18, "AIArena Token", "1")
    if initial_supply != 0:
        erc20._mint(msg.sender, initial_supply)


@external
def mint(owner: address, amount: uint256):
    """
    @notice Mint `amount` tokens to `owner`; only minters, never above `cap`.
    @dev Emits `Transfer(empty(address), owner, amount)` through snekmate's `_mint`.
    @param owner Receiver of the new tokens (not the zero address).
    @param amount Amount in wei.
    """
    assert erc20.is_minter[msg.sender], "token: caller is not a minter"
    assert erc20.totalSupply + amount <= cap, "token: cap exceeded"
    erc20._mint(owner, amount)


@external
@view
def mintable() -> uint256:
    """
    @notice How many tokens can still be minted before `cap` is reached.
    @return The remaining headroom in wei.
    """
    return cap - erc20.totalSupply
