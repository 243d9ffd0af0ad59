# pragma version ~=0.4.3
# pragma nonreentrancy on
"""
@title AIArena Emission
@custom:contract-name Emission
@license MIT
@notice Optional "daily emission" (DESIGN §3.6): mints ArenaToken at `rate` wei per
        second (capped by the immutable `max_rate` and by the token's own cap) and splits
        it across tasks in proportion to the stake each reports with a 1e36 accumulator,
        O(1) per task. The Arena reports the stake that worked in a task's last round that
        paid out, 0 after a void round or at the end (`notify_stake`, PROTOCOL.md §10), and
        pulls a task's accrued emission into the round pot at finalize (`pull`).
        Deployment: Emission(token, max_rate) -> Arena(token, emission, engine) ->
        `set_arena(arena)` (once) -> token owner `set_minter(emission, True)`.
@custom:kill The owner can `set_rate(0)`: accrual stops, already accrued amounts stay
        pullable. The owner can never move tokens or change the arena once set.
"""

from snekmate.auth import ownable
from snekmate.auth import ownable_2step

initializes: ownable
initializes: ownable_2step[ownable := ownable]

exports: (
    ownable_2step.owner,
    ownable_2step.pending_owner,
    ownable_2step.transfer_ownership,
    ownable_2step.accept_ownership,
    ownable_2step.renounce_ownership,
)


interface IArenaToken:
    def mint(owner: address, amount: uint256): nonpayable
    def mintable() -> uint256: view


# @dev Accumulator scale.
ACC: public(constant(uint256)) = 10**36


struct TaskEmission:
    stake: uint256
    checkpoint: uint256
    accrued: uint256


# @dev The ArenaToken this contract mints (it must be a minter of it).
token: public(immutable(address))
# @dev Upper bound of `rate`, fixed at deployment (wei per second).
max_rate: public(immutable(uint256))

# @dev The only caller of `notify_stake` and `pull`; set once.
arena: public(address)
# @dev Current emission rate in wei per second.
rate: public(uint256)
# @dev Sum of all tasks' reported own stake.
total_stake: public(uint256)
# @dev Emission per unit of stake, scaled by ACC.
acc: public(uint256)
# @dev Time of the last accumulator update.
last_update: public(uint256)
_tasks: HashMap[uint256, TaskEmission]


event ArenaSet:
    arena: indexed(address)

event RateSet:
    old_rate: uint256
    new_rate: uint256

event StakeNotified:
    task: indexed(uint256)
    stake: uint256
    total_stake: uint256

event Pulled:
    task: indexed(uint256)
    amount: uint256
    dropped: uint256


@deploy
def __init__(token_: address, max_rate_: uint256):
    """
    @notice Deploy with rate 0 (off); the deployer becomes the owner.
    @param token_ The ArenaToken.
    @param max_rate_ The maximum rate the owner may ever set (wei per second).
    """
    assert token_ != empty(address), "emission: zero address"
    token = token_
    max_rate = max_rate_
    ownable.__init__()
    ownable_2step.__init__()
    self.last_update = block.timestamp


@external
def set_arena(arena_: address):
    """
    @notice Set the Arena allowed to report stake and pull emission (once).
    @dev Owner only. Emits `ArenaSet`.
    @param arena_ The Arena address.
    """
    ownable._check_owner()
    assert self.arena == empty(address), "emission: arena already set"
    assert arena_ != empty(address), "emission: zero address"
    self.arena = arena_
    log ArenaSet(arena=arena_)


@external
def set_rate(new_rate: uint256):
    """
    @notice Change the emission rate (accrual so far is kept at the old rate).
    @dev Owner only; `new_rate <= max_rate`. Emits `RateSet`.
    @param new_rate Wei per second.
    """
    ownable._check_owner()
    assert new_rate <= max_rate, "emission: rate above max"
    self._update()
    log RateSet(old_rate=self.rate, new_rate=new_rate)
    self.rate = new_rate


@external
def notify_stake(task: uint256, stake: uint256):
    """
    @notice Arena reports the stake `task` earns emission with: the node and validator
            stake of its last round that paid out (0 after a void round or at the end).
    @dev Arena only. O(1). Emits `StakeNotified`.
    @param task The task id.
    @param stake The task's working stake.
    """
    assert msg.sender == self.arena, "emission: caller is not the arena"
    self._update()
    self._settle(task)
    total: uint256 = self.total_stake - self._tasks[task].stake + stake
    self.total_stake = total
    self._tasks[task].stake = stake
    log StakeNotified(task=task, stake=stake, total_stake=total)


@external
def pull(task: uint256) -> uint256:
    """
    @notice Mint `task`'s accrued emission to the Arena.
    @dev Arena only. Mints at most the token's remaining headroom; the rest is dropped.
         Emits `Pulled`.
    @param task The task id.
    @return uint256 The amount minted to the Arena.
    """
    assert msg.sender == self.arena, "emission: caller is not the arena"
    self._update()
    self._settle(task)
    amount: uint256 = self._tasks[task].accrued
    self._tasks[task].accrued = 0
    minted: uint256 = min(amount, staticcall IArenaToken(token).mintable())
    log Pulled(task=task, amount=minted, dropped=amount - minted)
    if minted != 0:
        extcall IArenaToken(token).mint(msg.sender, minted)
    return minted


@external
@view
def pending(task: uint256) -> uint256:
    """
    @notice Emission accrued by `task` so far (before the token-cap clamp).
    @param task The task id.
    @return uint256 The amount `pull` would try to mint now.
    """
    a: uint256 = self._acc_now()
    t: TaskEmission = self._tasks[task]
    return t.accrued + t.stake * (a - t.checkpoint) // ACC


@external
@view
def task_emission(task: uint256) -> TaskEmission:
    """
    @notice A task's record: reported stake, accumulator checkpoint, settled accrual.
    @param task The task id.
    @return TaskEmission The record.
    """
    return self._tasks[task]


@internal
@view
def _acc_now() -> uint256:
    a: uint256 = self.acc
    total: uint256 = self.total_stake
    if total != 0 and block.timestamp > self.last_update:
        a += self.rate * (block.timestamp - self.last_update) * ACC // total
    return a


@internal
def _update():
    self.acc = self._acc_now()
    self.last_update = block.timestamp


@internal
def _settle(task: uint256):
    a: uint256 = self.acc
    self._tasks[task].accrued += self._tasks[task].stake * (a - self._tasks[task].checkpoint) // ACC
    self._tasks[task].checkpoint = a
