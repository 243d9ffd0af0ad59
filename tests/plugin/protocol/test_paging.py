"""The client's paging at scale, without a chain: score reveals in pages of REVEAL_PAGE that
resume after a crash where the chain says the reveal stopped (PROTOCOL.md §5), and finalize
pages halved while the node's gas estimate is above PAGE_GAS (DESIGN §3.6)."""

from types import SimpleNamespace as NS

from ape_arena.protocol import REVEAL_PAGE
from ape_arena.protocol.transactions import ArenaTransactions
from ape_arena.protocol.types import PAGE_GAS


class FakeReveals(ArenaTransactions):
    """Just what ``reveal_scores`` reads: the sender, the round, and how many scores the
    chain already holds; every transaction is recorded."""

    def __init__(self, on_chain: int):
        self.on_chain = on_chain
        self.sent: list[list[int]] = []
        self.arena = NS(reveal_scores="reveal_scores")

    def _sender(self, sender):
        return NS(address="0x" + "11" * 20)

    def now(self):
        return 0

    def round_at(self, task, t):
        return 2

    def validator_round(self, task, r, who):
        return NS(assignments=self.on_chain)

    def _tx(self, name, task, fn, task_, chunk, salt, **kw):
        assert (name, task_, kw["phase"]) == ("reveal_scores", task, 5)
        self.sent.append(chunk)
        self.on_chain += len(chunk)
        return NS(receipt=len(self.sent))


def test_reveal_pages_cover_every_score_once_in_order():
    scores = list(range(2 * REVEAL_PAGE + 66))
    c = FakeReveals(on_chain=0)
    c.reveal_scores(7, scores, b"\x01" * 32)
    assert [len(p) for p in c.sent] == [REVEAL_PAGE, REVEAL_PAGE, 66]
    assert sum(c.sent, []) == scores


def test_reveal_resumes_after_the_pages_already_on_chain():
    scores = list(range(2 * REVEAL_PAGE + 66))
    c = FakeReveals(on_chain=REVEAL_PAGE)  # crashed after the first page
    c.reveal_scores(7, scores, b"\x01" * 32)
    assert sum(c.sent, []) == scores[REVEAL_PAGE:]


def test_a_validator_without_assignments_reveals_one_empty_page():
    c = FakeReveals(on_chain=0)
    c.reveal_scores(7, [], b"\x01" * 32)
    assert c.sent == [[]]  # completes the reveal (the commitment over no scores)


def test_finalize_page_halves_while_the_estimate_is_over_page_gas():
    asked = []

    def estimate(task, steps, order, sender=None):
        asked.append(steps)
        return 4_000_000 * steps  # 4M gas per unit: 3 units fit under PAGE_GAS

    fake = NS(arena=NS(finalize=NS(estimate_gas_cost=estimate)))
    steps, order = ArenaTransactions._finalize_page(
        fake, 1, 12, lambda task, s: list(range(s)), "0xabc"
    )
    assert (steps, order, asked) == (3, [0, 1, 2], [12, 6, 3])
    assert 4_000_000 * steps <= PAGE_GAS < 4_000_000 * 2 * steps


def test_finalize_page_halves_when_the_estimate_fails():
    """A page past the block gas limit fails its estimate (out of gas): halve it; a page that
    reverts for another reason goes out at 1 unit and reports its revert."""

    def estimate(task, steps, order, sender=None):
        if steps > 5:
            raise RuntimeError("execution reverted")  # out of gas at the block limit
        return 2_000_000 * steps

    fake = NS(arena=NS(finalize=NS(estimate_gas_cost=estimate)))
    steps, _ = ArenaTransactions._finalize_page(fake, 1, 40, lambda task, s: [], "0xabc")
    assert steps == 5  # 40 -> 20 -> 10 -> 5

    def reverts(task, steps, order, sender=None):
        raise RuntimeError("execution reverted: arena: round not over")

    fake = NS(arena=NS(finalize=NS(estimate_gas_cost=reverts)))
    steps, _ = ArenaTransactions._finalize_page(fake, 1, 12, lambda task, s: [], "0xabc")
    assert steps == 1
