"""Property tests of ArenaToken on titanoboa: the cap holds whatever minters do."""

from pathlib import Path

import boa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
CAP = 10**24


@pytest.fixture(scope="module")
def token_deployer():
    return boa.load_partial(str(ROOT / "contracts" / "ArenaToken.vy"))


@settings(max_examples=60, deadline=None)
@given(
    initial=st.integers(min_value=0, max_value=CAP),
    mints=st.lists(st.integers(min_value=0, max_value=CAP), max_size=8),
)
def test_supply_never_exceeds_cap(token_deployer, initial, mints):
    with boa.env.anchor():
        owner = boa.env.generate_address("owner")
        holder = boa.env.generate_address("holder")
        with boa.env.prank(owner):
            token = token_deployer.deploy(CAP, initial)
        expected = initial
        for amount in mints:
            if expected + amount <= CAP:
                with boa.env.prank(owner):
                    token.mint(holder, amount)
                expected += amount
            else:
                with boa.reverts("token: cap exceeded"), boa.env.prank(owner):
                    token.mint(holder, amount)
            assert token.totalSupply() == expected
            assert token.mintable() == CAP - expected
        assert token.balanceOf(owner) + token.balanceOf(holder) == token.totalSupply()
