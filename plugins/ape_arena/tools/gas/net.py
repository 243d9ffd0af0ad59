"""Bulk transactions against anvil: plain and batched JSON-RPC, unsigned
``eth_sendTransaction`` from impersonated addresses (anvil auto-impersonation, balances via
``anvil_setBalance``), sent in batches with automine off and then mined together.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from .report import Report

BLOCK_GAS = 30_000_000  # anvil block gas limit (ape-config.yaml)

# Gas limits given to bulk transactions (anvil packs blocks by limit; a too-low limit shows
# up as a failed receipt and stops the run).
GAS = {
    "transfer": 120_000,
    "approve": 100_000,
    "join": 600_000,
    "delegate": 600_000,
    "commit_model": 300_000,
    "reveal_model": 800_000,
    "reveal_eval": 500_000,
    "commit_scores": 300_000,
    "reveal_scores": 12_000_000,
    "draw": 6_000_000,
    "claim": 400_000,
    "withdraw": 400_000,
    "claim_refund": 300_000,
    "create_task": 1_500_000,
    "cancel_task": 300_000,
    "pause": 200_000,
    "unpause": 200_000,
}


def disable_anvil_steps_tracing() -> None:
    """Start anvil without ``--steps-tracing``.

    ape-foundry always passes it, so anvil keeps an opcode-level trace of every transaction
    in memory; a 128 x 32 round (finalize pages of 10-30M gas) then grows anvil past 20 GB
    and the kernel kills it. The report reads ``gasUsed`` from receipts and needs no traces.
    Call before the provider connects (``scripts/gas.py`` does it at import).
    """
    from ape_foundry.provider import FoundryProvider

    original = FoundryProvider.build_command
    if getattr(original, "_arena_no_steps", False):
        return

    def build_command(self) -> list[str]:
        return [arg for arg in original(self) if arg != "--steps-tracing"]

    build_command._arena_no_steps = True  # type: ignore[attr-defined]
    FoundryProvider.build_command = build_command


class RpcError(RuntimeError):
    pass


class Rpc:
    """Plain and batched JSON-RPC against the provider's HTTP endpoint."""

    def __init__(self, uri: str):
        import requests

        self.uri = uri
        self.session = requests.Session()
        self._id = 0

    def call(self, method: str, params: list | None = None) -> Any:
        return self.batch([(method, params or [])])[0]

    def batch(self, calls: list[tuple[str, list]]) -> list[Any]:
        if not calls:
            return []
        payload = []
        for method, params in calls:
            self._id += 1
            payload.append({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params})
        resp = self.session.post(self.uri, json=payload, timeout=600)
        resp.raise_for_status()
        by_id = {r["id"]: r for r in resp.json()}
        out = []
        for req in payload:
            r = by_id[req["id"]]
            if "error" in r:
                raise RpcError(f"{req['method']}: {r['error']}")
            out.append(r["result"])
        return out


@dataclass
class Tx:
    """One transaction to send: sender, contract, method, args, and the label it is measured under."""

    sender: str
    contract: Any
    method: str
    args: tuple
    label: str | None = None
    gas: int | None = None

    def as_rpc(self, gas_price: int) -> dict:
        handler = self.contract._mutable_methods_[self.method]
        data = "0x" + bytes(handler.encode_input(*self.args)).hex()
        gas = self.gas or GAS.get(self.method, 1_000_000)
        return {
            "from": self.sender,
            "to": str(self.contract.address),
            "data": data,
            "gas": hex(gas),
            "gasPrice": hex(gas_price),
        }


class Chain:
    """Sends transactions in batches (automine off, then mine until the pool is empty)."""

    def __init__(self, rpc: Rpc, report: Report, log=print):
        self.rpc = rpc
        self.report = report
        self.log = log
        self.gas_price = int(rpc.call("eth_gasPrice"), 16)
        rpc.call("anvil_autoImpersonateAccount", [True])

    def send(self, txs: list[Tx], chunk: int = 250) -> list[dict]:
        """Send `txs` (in order), mine them, check every receipt, record labelled gas."""
        if not txs:
            return []
        # Batched requests may be served concurrently: give every transaction its nonce.
        senders = sorted({t.sender for t in txs})
        counts = self.rpc.batch([("eth_getTransactionCount", [a, "pending"]) for a in senders])
        nonce = {a: int(c, 16) for a, c in zip(senders, counts, strict=True)}
        payloads = []
        for t in txs:
            p = t.as_rpc(self.gas_price)
            p["nonce"] = hex(nonce[t.sender])
            nonce[t.sender] += 1
            payloads.append(p)
        self.rpc.call("evm_setAutomine", [False])
        hashes: list[str] = []
        try:
            for i in range(0, len(payloads), chunk):
                hashes += self.rpc.batch(
                    [("eth_sendTransaction", [p]) for p in payloads[i : i + chunk]]
                )
            for _ in range(10_000):
                self.rpc.call("evm_mine")
                status = self.rpc.call("txpool_status")
                if int(status["pending"], 16) == 0 and int(status["queued"], 16) == 0:
                    break
        finally:
            self.rpc.call("evm_setAutomine", [True])
        receipts: list[dict] = []
        for i in range(0, len(hashes), chunk):
            receipts += self.rpc.batch(
                [("eth_getTransactionReceipt", [h]) for h in hashes[i : i + chunk]]
            )
        for t, r in zip(txs, receipts, strict=True):
            if r is None or int(r["status"], 16) != 1:
                raise RuntimeError(
                    f"{t.method}{t.args} from {t.sender} failed: {r and r.get('gasUsed')}"
                )
            if t.label:
                self.report.add(t.label, int(r["gasUsed"], 16))
        return receipts

    def send_one(self, tx: Tx, *, check: bool = True) -> dict:
        """Send one transaction with automine (used where the order against the clock matters)."""
        h = self.rpc.call("eth_sendTransaction", [tx.as_rpc(self.gas_price)])
        r = None
        for _ in range(5_000):
            r = self.rpc.call("eth_getTransactionReceipt", [h])
            if r is not None:
                break
            time.sleep(0.002)
        if r is None:
            raise RuntimeError(f"{tx.method}: no receipt")
        ok = int(r["status"], 16) == 1
        if check and not ok:
            raise RuntimeError(
                f"{tx.method} from {tx.sender} failed ({int(r['gasUsed'], 16):,} gas): {self.why(tx)}"
            )
        if ok and tx.label:
            self.report.add(tx.label, int(r["gasUsed"], 16))
        return r

    def why(self, tx: Tx) -> str:
        """The revert reason of `tx` replayed as an eth_call on the latest state."""
        payload = tx.as_rpc(self.gas_price)
        try:
            self.rpc.call("eth_call", [payload, "latest"])
        except RpcError as err:
            return str(err)
        return "no revert on replay (out of gas?)"

    def warp(self, timestamp: int) -> None:
        self.rpc.call("evm_setNextBlockTimestamp", [timestamp])
        self.rpc.call("evm_mine")

    def set_eth(self, addresses: list[str], wei: int = 10**21) -> None:
        self.rpc.batch([("anvil_setBalance", [a, hex(wei)]) for a in addresses])


def label_address(label: str) -> str:
    from eth_utils import keccak, to_checksum_address

    return to_checksum_address(keccak(text=f"ape-arena-gas:{label}")[12:])


def label_sha(label: str) -> bytes:
    import hashlib

    return hashlib.sha256(label.encode()).digest()


def keccak_abi(types: list[str], values: list) -> bytes:
    from eth_abi import encode
    from eth_utils import keccak

    return keccak(encode(types, values))
