"""Deploy the AIArena contracts and record their addresses (used by ``ape run deploy``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import deployments
from .types import PROTOCOL_VERSION

# Token supply: 1e9 ARENA cap; the deployer gets 1e8 to fund bounties, stakes and demos.
TOKEN_CAP = 1_000_000_000 * 10**18
INITIAL_SUPPLY = 100_000_000 * 10**18
LOCAL_CHAIN_IDS = {31337, 1337}


@dataclass
class Deployment:
    chain_id: int
    contracts: dict[str, str] = field(default_factory=dict)
    path: str = ""


def deploy_all(
    account,
    *,
    force: bool = False,
    token_cap: int = TOKEN_CAP,
    initial_supply: int = INITIAL_SUPPLY,
    emission: bool = False,
    emission_rate: int = 0,
    log=print,
) -> Deployment:
    """Deploy ArenaToken, ArenaEngine, ArenaRounds, Arena (and optionally Emission) from
    ``account``.

    Refuses to overwrite the deployment record of a live chain unless ``force`` is set;
    the check happens *before* any transaction is sent, so nothing is spent by mistake.
    At the end the deployer renounces the token's ownership, which (snekmate's ``erc20``)
    also takes its minter role: after deployment only Emission, if deployed, can mint, and
    nobody can add a minter.
    """
    from ape import chain, project

    chain_id = chain.chain_id
    is_live = chain_id not in LOCAL_CHAIN_IDS
    existing = deployments.deployment_path(chain_id)
    if is_live and existing.exists() and not force:
        raise deployments.DeploymentExistsError(
            f"{existing} already records a live deployment on chain {chain_id}; "
            "pass --force to replace it"
        )

    names = set(project.contracts.keys())
    out = Deployment(chain_id=chain_id)

    token = account.deploy(project.ArenaToken, token_cap, initial_supply)
    out.contracts["ArenaToken"] = token.address
    log(f"ArenaToken  {token.address}")

    emission_address = "0x0000000000000000000000000000000000000000"
    if emission and "Emission" in names:
        em = account.deploy(project.Emission, token.address, emission_rate)
        emission_address = em.address
        out.contracts["Emission"] = em.address
        log(f"Emission    {em.address}")

    if "Arena" in names:
        # Finalize (ArenaEngine) and the commit-reveal entry points (ArenaRounds) run in
        # Arena's storage through delegatecall: each deployable stays under EIP-170.
        engine = account.deploy(project.ArenaEngine)
        out.contracts["ArenaEngine"] = engine.address
        log(f"ArenaEngine {engine.address}")
        rounds = account.deploy(project.ArenaRounds)
        out.contracts["ArenaRounds"] = rounds.address
        log(f"ArenaRounds {rounds.address}")
        arena = account.deploy(
            project.Arena, token.address, emission_address, engine.address, rounds.address
        )
        out.contracts["Arena"] = arena.address
        log(f"Arena       {arena.address}")
        if emission and "Emission" in names:
            project.Emission.at(emission_address).set_arena(arena.address, sender=account)
            token.set_minter(emission_address, True, sender=account)
    token.renounce_ownership(sender=account)
    log("ArenaToken  ownership renounced: the deployer can no longer mint")

    path = deployments.save(
        chain_id,
        out.contracts,
        is_live=is_live,
        force=True,  # the live-chain check above already ran before any transaction
        meta={
            "deployer": account.address,
            "block": chain.blocks.head.number,
            "protocol_version": PROTOCOL_VERSION,
        },
    )
    out.path = str(path)
    log(f"recorded in {path}")
    return out
