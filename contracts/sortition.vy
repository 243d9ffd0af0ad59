# pragma version ~=0.4.3
"""
@title AIArena committee sortition
@custom:contract-name sortition
@license MIT
@notice Protocol v2 committee rule (DESIGN §3.4), the on-chain half of
        `plugins/ape_arena/protocol/sortition.py`, which computes the same integers:
        the round's seed, whether validator index `j` sits on the committee of submission
        slot `k`, and its vote weight there. Stateless module: import it and call its
        internal functions; it needs no `initializes:`. Membership is O(1) for anyone:
        `j` is on slot `k`'s committee iff `K * eff_j >= W` (p_j = 1) or
        `uint256(keccak256(abi_encode(seed, k, j))) < (2**256 - 1) // W * (K * eff_j)`,
        i.e. with probability p_j = min(1, K * eff_j / W). Its vote weight is
        eff_j / p_j = max(eff_j, W // K): selection already follows stake, so a vote is
        not weighted by stake a second time.
        Arena's `draw` and membership views, `reveal_scores` (which enumerates the caller's
        committee slots) and CONSENSUS (vote weights) use it (PROTOCOL.md §5a).
"""

# @dev The largest committee size K a task may choose (DESIGN §3.4).
MAX_COMMITTEE_SIZE: constant(uint256) = 64


@internal
@pure
def _round_seed(block_hash: bytes32, task: uint256, round: uint256, digest: bytes32) -> bytes32:
    """
    @dev keccak256(abi_encode(block_hash, task, round, digest)): the hash of a block fixed
         after the round's submissions are known (`digest` commits to them).
    """
    return keccak256(abi_encode(block_hash, task, round, digest))


@internal
@pure
def _next_digest(digest: bytes32, model_sha256: bytes32) -> bytes32:
    """
    @dev The running digest of a round's revealed submissions in slot order:
         d_0 = 0, d_{k+1} = keccak256(abi_encode(d_k, model_sha256_k)).
    """
    return keccak256(abi_encode(digest, model_sha256))


@internal
@pure
def _is_assigned(seed: bytes32, k: uint256, j: uint256, eff: uint256, total: uint256, size: uint256) -> bool:
    """
    @dev Whether validator index `j` (frozen effective stake `eff` of the round's total
         `total` = W > 0) is on the committee of slot `k` at committee size `size` = K.
    """
    if eff == 0:
        return False
    if size * eff >= total:
        return True
    h: uint256 = convert(keccak256(abi_encode(seed, k, j)), uint256)
    return h < max_value(uint256) // total * (size * eff)


@internal
@pure
def _vote_weight(eff: uint256, total: uint256, size: uint256) -> uint256:
    """
    @dev eff / p = `eff` when K * eff >= W, else W // K (0 without stake).
    """
    if eff == 0:
        return 0
    if size * eff >= total:
        return eff
    return total // size
