"""A Base Sepolia rehearsal without internet: deploy and run a task as on the real network.

anvil runs in its OP-stack mode (``--network optimism``) with Base Sepolia's chain id
(84532); a scratch project folder's ape-config.yaml points Ape's ``base:sepolia:node`` at it
(the README's Deploying section, with a local URI); every participant is a real keyfile
account (imported with Ape's own ``import_account_from_private_key``, unlocked through
``APE_ACCOUNTS_<alias>_PASSPHRASE``), never a test account. Everything runs as the README
says, in separate processes with ``--network base:sepolia:node --account NAME``: ``ape run
deploy``, ``ape arena transfer``, ``ape arena task init`` and ``task create``, the joins, then
one round in real time (15-second phases) with ``task run``, ``node run`` and
``validator run`` (``--autosign``: a keyfile account otherwise asks "Sign:" per
transaction): the round is scored and paid and every loop withdraws and exits 0.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
MNEMONIC = "test test test test test test test test test test test junk"
KEYS = {  # anvil's first dev keys of MNEMONIC: funded with ether on the rehearsal chain
    "deployer": "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "creator": "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "node": "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "validator": "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
}
PASSPHRASE = "rehearsal-only"
NET = ["--network", "base:sepolia:node"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def rehearsal(tmp_path):
    """(project folder, aliases, env, anvil process), cleaned up after."""
    port = _free_port()
    anvil = shutil.which("anvil") or str(REPO / "node_modules" / ".bin" / "anvil")
    chain = subprocess.Popen(
        [anvil, "--network", "optimism", "--chain-id", "84532", "--port", str(port), "--block-time", "1",
         "--accounts", "10", "--mnemonic", MNEMONIC],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    project = tmp_path / "project"
    project.mkdir()
    for name in ("contracts", "scripts"):
        os.symlink(REPO / name, project / name)
    if (REPO / ".build").is_dir():  # the compiled contracts: no recompiling here
        shutil.copytree(REPO / ".build", project / ".build")
    config = (REPO / "ape-config.yaml").read_text()
    config += f"\nnode:\n  base:\n    sepolia:\n      uri: http://127.0.0.1:{port}\n"
    (project / "ape-config.yaml").write_text(config)
    tag = f"rehearsal{os.getpid()}"
    aliases = {role: f"{tag}-{role}" for role in KEYS}
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for alias in aliases.values():
        env[f"APE_ACCOUNTS_{alias}_PASSPHRASE"] = PASSPHRASE
    code = (
        "import sys\n"
        "from ape_accounts.accounts import import_account_from_private_key\n"
        "for alias, key in zip(sys.argv[1::2], sys.argv[2::2]):\n"
        f"    import_account_from_private_key(alias, {PASSPHRASE!r}, key)\n"
    )
    argv = [x for role in KEYS for x in (aliases[role], KEYS[role])]
    subprocess.run([sys.executable, "-c", code, *argv], check=True, env=env, cwd=project)
    deadline = time.monotonic() + 30
    while True:  # anvil listening
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "anvil did not start"
            time.sleep(0.2)
    try:
        yield project, aliases, env
    finally:
        chain.kill()
        chain.wait()
        data = Path(os.environ.get("APE_DATA_FOLDER", Path.home() / ".ape"))
        for alias in aliases.values():
            (data / "accounts" / f"{alias}.json").unlink(missing_ok=True)


def test_deploy_and_one_round_on_a_base_sepolia_rehearsal_chain(rehearsal):
    project, aliases, env = rehearsal
    ape = str(Path(sys.executable).with_name("ape"))

    def run(*args: str, role: str | None = None, timeout: float = 300) -> str:
        argv = [ape, *args, *NET] + (["--account", aliases[role]] if role else [])
        # what a user types for a keyfile account: "Sign: [y/N]" y, its passphrase, "Leave
        # unlocked?" y, then y to each further "Sign:"
        answers = f"y\n{PASSPHRASE}\ny\n" + "y\n" * 50
        res = subprocess.run(
            argv, cwd=project, env=env, capture_output=True, text=True, timeout=timeout,
            input=answers,
        )  # fmt: skip
        assert res.returncode == 0, f"{' '.join(args)}\n{res.stdout}\n{res.stderr}"
        return res.stdout

    out = run("run", "deploy", role="deployer")
    record = json.loads((project / "deployments" / "84532.json").read_text())
    assert record["chain_id"] == 84532 and record["protocol_version"] == 2, out
    addresses = {}
    for role in ("creator", "node", "validator"):
        code = f"from ape import accounts; print(accounts.load({aliases[role]!r}).address)"
        addresses[role] = subprocess.run(
            [sys.executable, "-c", code], cwd=project, env=env, capture_output=True, text=True
        ).stdout.strip()
        run("arena", "transfer", addresses[role], "--amount", "1000", role="deployer")

    rows = "a,b,c,label\n" + "".join(f"{i % 7},{i % 5},{i % 3},{i % 2}\n" for i in range(200))
    (project / "data.csv").write_text(rows)
    subprocess.run(
        [ape, "arena", "task", "init", "data.csv", "--kind", "classification", "--rounds", "1",
         "-o", "task"], cwd=project, env=env, check=True, capture_output=True,
    )  # fmt: skip
    out = run(
        "arena", "task", "create", "task/spec.json", "task/shards", "--bounty", "100",
        "--rounds", "1", "--start-in", "90s", "--phase-seconds", "15s", "--min-committee", "1",
        role="creator",
    )  # fmt: skip
    assert "created task 1" in out
    run("arena", "node", "join", "1", "--amount", "20", role="node")
    run("arena", "validator", "join", "1", "--amount", "200", role="validator")
    models = project / "models"
    models.mkdir()
    (models / "m.onnx").write_bytes(_iris_like_model().SerializeToString())

    loops = {
        "creator": ["arena", "task", "run", "1", "--poll", "0.5", "--autosign"],
        "node": [
            "arena",
            "node",
            "run",
            "1",
            "--models",
            str(models),
            "--poll",
            "0.5",
            "--autosign",
        ],
        "validator": [
            "arena",
            "validator",
            "run",
            "1",
            "--threads",
            "1",
            "--poll",
            "0.5",
            "--autosign",
        ],
    }
    procs = {}
    for role, args in loops.items():
        log = open(project / f"{role}.log", "wb")  # noqa: SIM115 - closed below
        procs[role] = (
            subprocess.Popen(
                [ape, *args, *NET, "--account", aliases[role]],
                cwd=project,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            ),  # fmt: skip
            log,
        )
    try:
        for role, (proc, log) in procs.items():
            code = proc.wait(timeout=400)
            log.close()
            text = (project / f"{role}.log").read_text(errors="replace")
            assert code == 0, f"{role}:\n{text}"
    finally:
        for proc, _ in procs.values():
            if proc.poll() is None:
                proc.kill()
    logs = {role: (project / f"{role}.log").read_text() for role in procs}
    assert "round 0: revealed the eval shard" in logs["creator"]
    assert "round 0: revealed" in logs["node"] and "withdrew stake 20 ARENA" in logs["node"]
    assert "round 0: scored 1 models" in logs["validator"] and "withdrew stake" in logs["validator"]
    report = json.loads(run("arena", "task", "show", "1", "--json"))
    assert report["status"] == "ended" and report["chain_id"] == 84532
    (r0,) = report["rounds"]
    assert r0["void"] is None and r0["submissions"][0]["reward"] > 0
    assert r0["validators"][0]["reward"] > 0 and r0["validators"][0]["slash"] == 0


def _iris_like_model():
    """logits [batch, 2] from features [batch, 3]: a fixed linear model in ONNX."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    w = numpy_helper.from_array(np.array([[0.3, -0.3], [0.1, -0.1], [0.2, 0.0]], np.float32), "W")
    b = numpy_helper.from_array(np.zeros(2, np.float32), "B")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["features", "W"], ["xw"]),
         helper.make_node("Add", ["xw", "B"], ["logits"])],
        "rehearsal",
        [helper.make_tensor_value_info("features", onnx.TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, ["batch", 2])],
        initializer=[w, b],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model
