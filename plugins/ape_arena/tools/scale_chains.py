"""The two chains ``make scale`` plays on: titanoboa (in-process py-evm, fast) and anvil
(started here with the project's pinned hardfork), behind one small interface so that the
same round code drives both and their gas can be compared call for call.

Gas of a titanoboa call is what a receipt would say: the execution gas, plus the intrinsic
gas (21,000 and the calldata), minus the refund (at most a fifth of the total, EIP-3529).
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from eth_utils import keccak, to_checksum_address

from .gas.net import Rpc, RpcError

ROOT = Path(__file__).resolve().parents[3]
CONTRACTS = ROOT / "contracts"
CONTRACT_NAMES = ("ArenaToken", "ArenaEngine", "ArenaRounds", "Arena")
ZERO = "0x" + "00" * 20
TX_GAS = 29_000_000  # gas limit given to an anvil transaction (block limit 30M)


def address(label: str) -> str:
    """A deterministic address for ``label`` (no key: both chains let it send)."""
    return to_checksum_address(keccak(text=f"ape-arena-scale:{label}")[12:])


@functools.cache
def evm_version() -> str:
    """The hardfork the project compiles for and anvil runs (ape-config.yaml)."""
    import yaml

    return yaml.safe_load((ROOT / "ape-config.yaml").read_text())["vyper"]["evm_version"]


@functools.cache
def partials() -> dict:
    """Each contract compiled once, for the pinned hardfork."""
    import boa

    args = {"evm_version": evm_version()}
    return {
        n: boa.load_partial(str(CONTRACTS / f"{n}.vy"), compiler_args=args) for n in CONTRACT_NAMES
    }


def intrinsic_gas(data: bytes) -> int:
    zeros = data.count(0)
    return 21_000 + 4 * zeros + 16 * (len(data) - zeros)


class Chain:
    """What the round code needs: send a transaction (returns its gas), read a view, move
    the clock and the block number. Gas is recorded per label."""

    def __init__(self):
        self.gas: dict[str, list[int]] = defaultdict(list)

    def record(self, label: str | None, gas: int) -> int:
        if label:
            self.gas[label].append(gas)
        return gas


class BoaChain(Chain):
    """titanoboa: the contracts deployed in the process's EVM."""

    def __init__(self):
        import boa

        super().__init__()
        self.boa = boa
        p = partials()
        self.owner = address("owner")
        boa.env.eoa = self.owner
        self.token = p["ArenaToken"].deploy(2**200, 0)
        engine = p["ArenaEngine"].deploy()
        rounds = p["ArenaRounds"].deploy()
        self.arena = p["Arena"].deploy(self.token.address, ZERO, engine.address, rounds.address)

    def tx(self, sender: str, contract: Any, fn: str, *args, label: str | None = None) -> int:
        f = getattr(contract, fn)
        self._new_transaction()
        with self.boa.env.prank(sender):
            f(*args)
        return self.record(label, self._gas(contract, f.prepare_calldata(*args)))

    def _new_transaction(self) -> None:
        """What a new transaction sees: every slot and account cold (EIP-2929) and the
        storage's "original" values (EIP-2200) those left by the previous one. boa runs
        calls back to back in one journal otherwise: warm slots and dirty-slot SSTORE
        prices made joins 10k and delegations 14k gas cheaper than anvil's receipts."""
        self.boa.env.evm.vm.state._account_db.lock_changes()

    @staticmethod
    def _gas(contract: Any, data: bytes) -> int:
        c = contract._computation
        used = c.get_gas_used() + intrinsic_gas(data)
        return used - min(c.get_gas_refund(), used // 5)

    def tx_within(
        self, limit: int, sender: str, contract: Any, fn: str, *args, label: str | None = None
    ) -> int | None:
        """Send the call if it succeeds within ``limit`` gas (what a client does after an
        estimate), else undo it and return None. One execution instead of two."""
        f = getattr(contract, fn)
        self._new_transaction()
        state = self.boa.env.evm.vm.state
        snap = state.snapshot()
        try:
            with self.boa.env.prank(sender):
                f(*args)
        except Exception:  # noqa: BLE001 (a revert or out of gas: the caller pages down)
            state.revert(snap)
            return None
        gas = self._gas(contract, f.prepare_calldata(*args))
        if gas > limit:
            state.revert(snap)
            return None
        state.commit(snap)
        return self.record(label, gas)

    def view(self, contract: Any, fn: str, *args) -> Any:
        return getattr(contract, fn)(*args)

    def block_hash(self, n: int) -> bytes:
        return bytes(self.boa.env.evm.vm.state.get_ancestor_hash(n))

    def pin_block_hash(self, h: bytes) -> None:
        """BLOCKHASH answers ``h`` from now on: the replay draws the same committees as
        the anvil run it is compared with (the seed is the only input that differs)."""
        state = self.boa.env.evm.vm.state
        state.get_ancestor_hash = lambda n: h

    def unpin_block_hash(self) -> None:
        state = self.boa.env.evm.vm.state
        if "get_ancestor_hash" in vars(state):
            del state.get_ancestor_hash

    def now(self) -> int:
        return self.boa.env.evm.patch.timestamp

    def warp(self, t: int) -> None:
        self.boa.env.evm.patch.timestamp = t
        self.mine(1)

    def mine(self, n: int) -> None:
        self.boa.env.evm.patch.block_number += n


class _Remote:
    """A deployed contract on anvil, read and written with the calldata and return types of
    its titanoboa twin (``partial.at``: only the ABI is used)."""

    def __init__(self, twin: Any, addr: str):
        self.twin = twin
        self.address = addr


class AnvilChain(Chain):
    """anvil, started with the pinned hardfork on a free port; senders are impersonated."""

    def __init__(self):
        super().__init__()
        exe = shutil.which("anvil")
        if exe is None:
            raise RuntimeError("anvil not found on PATH (npm ci puts it in node_modules/.bin)")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.state_dir = tempfile.mkdtemp(prefix="arena-scale-anvil-")
        self.proc = subprocess.Popen(
            [exe, "--port", str(port), "--hardfork", evm_version(), "--gas-limit", "30000000",
             "--silent", "--prune-history"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "TMPDIR": self.state_dir},
        )  # fmt: skip
        self.rpc = Rpc(f"http://127.0.0.1:{port}")
        for _ in range(300):
            try:
                self.rpc.call("eth_chainId")
                break
            except Exception:  # noqa: BLE001 (not listening yet)
                time.sleep(0.1)
        else:
            self.close()
            raise RuntimeError("anvil did not start")
        self.rpc.call("anvil_autoImpersonateAccount", [True])
        self.gas_price = int(self.rpc.call("eth_gasPrice"), 16)
        self.owner = address("owner")
        self.fund_eth([self.owner])
        p = partials()
        self.token = self._deploy(p["ArenaToken"], ["uint256", "uint256"], [2**200, 0])
        engine = self._deploy(p["ArenaEngine"], [], [])
        rounds = self._deploy(p["ArenaRounds"], [], [])
        self.arena = self._deploy(
            p["Arena"], ["address"] * 4, [self.token.address, ZERO, engine.address, rounds.address]
        )

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def fund_eth(self, addrs: list[str]) -> None:
        self.rpc.batch([("anvil_setBalance", [a, hex(10**24)]) for a in addrs])

    def _deploy(self, partial: Any, types: list[str], args: list) -> _Remote:
        from eth_abi import encode

        data = partial.compiler_data.bytecode + encode(types, args)
        r = self._send({"from": self.owner, "data": "0x" + data.hex()})
        addr = to_checksum_address(r["contractAddress"])
        return _Remote(_twin(partial, addr), addr)

    def _send(self, payload: dict) -> dict:
        payload = {**payload, "gas": hex(TX_GAS), "gasPrice": hex(self.gas_price)}
        h = self.rpc.call("eth_sendTransaction", [payload])
        for _ in range(10_000):
            r = self.rpc.call("eth_getTransactionReceipt", [h])
            if r is not None:
                break
            time.sleep(0.002)
        else:
            raise RuntimeError("no receipt")
        if int(r["status"], 16) != 1:
            try:
                self.rpc.call("eth_call", [payload, hex(int(r["blockNumber"], 16) - 1)])
                why = "out of gas?"
            except RpcError as err:
                why = str(err)
            raise RuntimeError(f"transaction failed on anvil: {why}")
        return r

    def tx(self, sender: str, contract: _Remote, fn: str, *args, label: str | None = None) -> int:
        data = getattr(contract.twin, fn).prepare_calldata(*args)
        r = self._send({"from": sender, "to": contract.address, "data": "0x" + data.hex()})
        return self.record(label, int(r["gasUsed"], 16))

    def tx_within(
        self, limit: int, sender: str, contract: _Remote, fn: str, *args, label: str | None = None
    ) -> int | None:
        """Send the call if the node's gas estimate is within ``limit``, else None."""
        data = getattr(contract.twin, fn).prepare_calldata(*args)
        payload = {"from": sender, "to": contract.address, "data": "0x" + data.hex()}
        try:
            estimate = int(self.rpc.call("eth_estimateGas", [payload]), 16)
        except RpcError:
            return None
        if estimate > limit:
            return None
        return self.tx(sender, contract, fn, *args, label=label)

    def view(self, contract: _Remote, fn: str, *args) -> Any:
        from boa.contracts.vyper.vyper_contract import (
            TupleT,
            abi_decode,
            calculate_type_for_external_return,
            vyper_object,
        )

        f = getattr(contract.twin, fn)
        payload = {"to": contract.address, "data": "0x" + f.prepare_calldata(*args).hex()}
        out = bytes.fromhex(self.rpc.call("eth_call", [payload, "latest"])[2:])
        typ = f.func_t.return_type
        ret = abi_decode(calculate_type_for_external_return(typ).abi_type.selector_name(), out)
        if not isinstance(typ, TupleT):
            (ret,) = ret
        return vyper_object(ret, typ)

    def block_hash(self, n: int) -> bytes:
        b = self.rpc.call("eth_getBlockByNumber", [hex(n), False])
        return bytes.fromhex(b["hash"][2:])

    def _block(self) -> dict:
        return self.rpc.call("eth_getBlockByNumber", ["latest", False])

    def now(self) -> int:
        return int(self._block()["timestamp"], 16)

    def warp(self, t: int) -> None:
        self.rpc.call("evm_setNextBlockTimestamp", [t])
        self.rpc.call("evm_mine")

    def mine(self, n: int) -> None:
        for _ in range(n):
            self.rpc.call("evm_mine")


def _twin(partial: Any, addr: str) -> Any:
    """A titanoboa handle on ``addr`` (no code there in the local EVM): its functions give
    the calldata and the return types of the contract deployed on anvil."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return partial.at(addr)
