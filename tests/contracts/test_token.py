"""ArenaToken on anvil: capped supply, minter role, ownership, events."""

import ape
import pytest

from .conftest import CAP, INITIAL


def test_deploy_sets_cap_owner_and_initial_supply(token, owner):
    assert token.cap() == CAP
    assert token.owner() == owner
    assert token.totalSupply() == INITIAL
    assert token.balanceOf(owner) == INITIAL
    assert token.is_minter(owner)
    assert token.mintable() == CAP - INITIAL
    assert token.decimals() == 18
    assert token.symbol() == "ARENA"


def test_deploy_reverts_on_bad_cap(project, owner):
    with ape.reverts("token: cap is zero"):
        owner.deploy(project.ArenaToken, 0, 0)
    with ape.reverts("token: initial supply above cap"):
        owner.deploy(project.ArenaToken, 10, 11)


def test_owner_grants_minter_who_mints_with_event(token, owner, minter, holder):
    tx = token.set_minter(minter, True, sender=owner)
    assert tx.events == [token.RoleMinterChanged(minter=minter, status=True)]
    tx = token.mint(holder, 5 * 10**18, sender=minter)
    ev = tx.events[0]
    assert ev.event_name == "Transfer"
    assert (ev.sender, ev.receiver, ev.value) == (
        "0x0000000000000000000000000000000000000000",
        holder.address,
        5 * 10**18,
    )
    assert token.balanceOf(holder) == 5 * 10**18


def test_revoked_minter_cannot_mint(token, owner, minter, holder):
    token.set_minter(minter, True, sender=owner)
    token.set_minter(minter, False, sender=owner)
    with ape.reverts("token: caller is not a minter"):
        token.mint(holder, 1, sender=minter)


def test_mint_cannot_exceed_cap(token, owner, holder):
    token.mint(holder, CAP - INITIAL, sender=owner)
    assert token.mintable() == 0
    with ape.reverts("token: cap exceeded"):
        token.mint(holder, 1, sender=owner)


@pytest.mark.parametrize("action", ["set_minter", "transfer_ownership"])
def test_non_owner_cannot_manage_roles(token, non_owner, holder, action):
    with ape.reverts("ownable: caller is not the owner"):
        if action == "set_minter":
            token.set_minter(holder, True, sender=non_owner)
        else:
            token.transfer_ownership(holder, sender=non_owner)
