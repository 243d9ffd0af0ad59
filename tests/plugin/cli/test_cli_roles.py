"""``ape arena`` commands through click's CliRunner on the already-connected anvil.

Commands get the test session's provider through ``ctx.obj`` (what Ape's
``ConnectedProviderCommand`` reuses; re-resolving ``--network`` costs ~4 s per command, so
only one test passes ``--network ethereum:local:foundry`` explicitly) and read the deployment record from the temporary project folder the
test ``chdir``s into; the artifact store and state files land there too. Time is warped with
the fixture ``ArenaClient`` between commands.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from ape_arena._cli import cli
from ape_arena.protocol import TOKEN, Phase, Role, Status
from click.testing import CliRunner

from tests.plugin.conftest import build_digits_onnx
from tests.plugin.protocol.test_chain_fixtures import *  # noqa: F403 - fixtures

pytestmark = pytest.mark.anvil

NET = ("--network", "ethereum:local:foundry")
ACCOUNT_INDEX = {
    "deployer": 0,
    "creator": 1,
    "node": 2,
    "node2": 3,
    "validator": 4,
    "validator2": 5,
    "delegator": 6,
    "attacker": 7,
}


@pytest.fixture
def project_dir(deployment_root, monkeypatch, tmp_path):
    """A fresh project folder per test (own store and state) with the deployment record."""
    import shutil

    shutil.copytree(deployment_root.root / "deployments", tmp_path / "deployments")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def run(project_dir, arena):  # arena: deployed and actors funded
    """``run("task", "show", "1", as_="creator", ok=True)`` -> click Result."""
    runner = CliRunner()

    def invoke(*args: str, as_: str | None = None, ok: bool = True, network: bool = True):
        from ape import chain

        argv = [str(a) for a in args]
        if as_ is not None:
            argv += ["--account", f"TEST::{ACCOUNT_INDEX[as_]}"]
        obj = {"provider": chain.provider} if network else None
        res = runner.invoke(cli, argv, obj=obj, catch_exceptions=False)
        if ok:
            assert res.exit_code == 0, res.output
        else:
            assert res.exit_code != 0, res.output
        return res

    return invoke


@pytest.fixture(scope="module")
def task_files(tmp_path_factory):
    """A canonical digits spec file and a 3-round shard folder (tiny shards)."""
    from ape_arena.evaluation.shards import build_shards, digits_eval_arrays
    from ape_arena.evaluation.spec import example

    root = tmp_path_factory.mktemp("task-files")
    spec = example("digits")
    spec_path = spec.write(root / "digits.json")
    manifest = build_shards(digits_eval_arrays(rows=90, seed=1), 3, root / "shards", spec=spec)
    model = root / "model.onnx"
    model.write_bytes(build_digits_onnx(seed=3).SerializeToString())
    return {"spec": spec_path, "shards": root / "shards", "manifest": manifest, "model": model}


def error_line(res) -> str:
    lines = [ln for ln in res.output.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1, res.output
    return lines[0]


def create_task(run, task_files, *extra: str) -> int:
    res = run(
        "task", "create", task_files["spec"], task_files["shards"], "--bounty", "3000",
        "--start-in", "10m", "--phase-seconds", "100", *extra, as_="creator",
    )  # fmt: skip
    m = re.search(r"created task (\d+): 3 rounds, bounty 3000 ARENA", res.output)
    assert m, res.output
    return int(m.group(1))


# --------------------------------------------------------------------------- help
@pytest.mark.parametrize(
    "path",
    [
        ("task", "create"), ("task", "reveal-eval"), ("task", "show"), ("task", "list"),
        ("task", "finalize"),
        ("task", "cancel"), ("task", "refund"), ("node", "join"), ("node", "check"),
        ("node", "submit"), ("node", "reveal"), ("delegator", "delegate"),
        ("delegator", "claim"), ("delegator", "withdraw"), ("claim",), ("withdraw",),
        ("store", "put"), ("store", "get"), ("store", "serve"), ("transfer",), ("balance",),
        ("status",), ("task", "run"), ("node", "run"), ("validator", "run"), ("task", "init"),
        ("explorer",), ("node", "train-lora"), ("node", "seal"),
    ],
)  # fmt: skip
def test_every_command_has_help_with_example(path):
    res = CliRunner().invoke(cli, [*path, "--help"])
    assert res.exit_code == 0, res.output
    assert "Example:" in res.output and "ape arena " + " ".join(path) in res.output


def test_validator_run_takes_a_device_and_refuses_others():
    res = CliRunner().invoke(cli, ["validator", "run", "1", "--device", "gpu"])
    assert res.exit_code == 2 and "'gpu' is not one of 'auto', 'cpu', 'cuda'" in res.output
    res = CliRunner().invoke(cli, ["validator", "run", "--help"])
    assert "--device [auto|cpu|cuda]" in res.output


def test_help_imports_no_web_framework():
    """``ape arena --help`` stays light: the explorer's Starlette and uvicorn load only when
    ``ape arena explorer`` runs."""
    code = (
        "import sys; from click.testing import CliRunner; from ape_arena._cli import cli; "
        "r = CliRunner().invoke(cli, ['--help']); assert r.exit_code == 0, r.output; "
        "print(sorted(m for m in ('starlette', 'uvicorn', 'playwright', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


# --------------------------------------------------------------------------- creator
def test_task_create_and_show(run, arena, actors, task_files):
    before = arena.balance(actors.creator)
    task = create_task(run, task_files, "--delta", "20%", "--min-node-stake", "5")
    assert arena.balance(actors.creator) == before - 3000 * TOKEN
    p = arena.task_params(task)
    assert p.eval_root == task_files["manifest"].tree.root
    assert p.num_rounds == 3 and p.commit_duration == 100 and p.delta == TOKEN // 5
    assert p.min_node_stake == 5 * TOKEN and p.spec_uri.startswith("file://")
    from ape_arena.evaluation.spec import TaskSpec

    assert p.spec_hash == TaskSpec.load(task_files["spec"]).sha256()

    rep = json.loads(run("task", "show", task, "--json").output)
    assert rep["task"] == task and rep["status"] == "active"
    assert rep["params"]["bounty"] == 3000 * TOKEN and rep["now"]["phase"] == "not-started"
    text = run("task", "show", task).output
    assert f"Task {task}" in text and "bounty 3000 ARENA" in text


def test_task_list_pages_newest_first(run, arena, actors, task_files):
    first = create_task(run, task_files)
    second = create_task(run, task_files)
    listing = json.loads(run("task", "list", "--json").output)
    ids = [t["task"] for t in listing["tasks"]]
    assert ids[:2] == [second, first] and listing["task_count"] == second
    row = listing["tasks"][0]
    assert row["status"] == "active" and row["bounty"] == 3000 * TOKEN
    assert row["creator"] == actors.creator.address and row["rounds"] == 3
    page = json.loads(run("task", "list", "--limit", "1", "--json").output)
    assert [t["task"] for t in page["tasks"]] == [second] and page["next_below"] == second
    older = json.loads(run("task", "list", "--limit", "1", "--below", second, "--json").output)
    assert [t["task"] for t in older["tasks"]] == [first]
    text = run("task", "list").output
    assert f"{second:>5}  active" in text and actors.creator.address in text


def test_task_create_rejects_bad_spec_and_missing_manifest(run, task_files, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x"}')
    res = run("task", "create", bad, task_files["shards"], "--bounty", "1", as_="creator", ok=False)
    assert "bad.json" in error_line(res)
    empty = tmp_path / "empty"
    empty.mkdir()
    res = run("task", "create", task_files["spec"], empty, "--bounty", "1", as_="creator", ok=False)
    assert "has no manifest.json" in error_line(res)
    res = run(
        "task", "create", task_files["spec"], task_files["shards"], "--bounty", "1",
        "--rounds", "4", as_="creator", ok=False,
    )  # fmt: skip
    assert "needs one shard per round" in error_line(res)


def test_cancel_and_errors_are_one_line(run, arena, actors, task_files):
    task = create_task(run, task_files)
    res = run("task", "show", 999, *NET, ok=False)  # --network resolved as a user would
    assert "task 999 does not exist" in error_line(res)
    res = run("node", "join", task, "--amount", "1", as_="node", ok=False)
    assert "minimum stake is 10 ARENA for nodes" in error_line(res)
    res = run("task", "cancel", task, as_="node", ok=False)
    assert "only the creator" in error_line(res)
    run("task", "cancel", task, as_="creator")
    assert arena.task_state(task).status == Status.CANCELLED


def test_bad_input_is_refused_before_any_approve(run, arena, actors, task_files):
    """Every check the contract would make runs before the approve transaction: an out-of-
    range parameter is named with its option and range, a stake below the minimum or a
    creator joining its own task is explained, and no allowance is granted for nothing."""
    before = arena.allowance(actors.creator)
    res = run(
        "task", "create", task_files["spec"], task_files["shards"], "--bounty", "50",
        "--gamma", "0.7", "--start-in", "10m", as_="creator", ok=False,
    )  # fmt: skip
    assert "gamma (--gamma) is 0.7; allowed 0..0.5" in error_line(res)
    res = run(
        "task", "create", task_files["spec"], task_files["shards"], "--bounty", "50",
        "--min-committee", "257", "--start-in", "10m", as_="creator", ok=False,
    )  # fmt: skip
    assert "min_committee (--min-committee) is 257; allowed 1..256" in error_line(res)
    assert arena.allowance(actors.creator) == before
    task = create_task(run, task_files)
    node_allowance = arena.allowance(actors.node)
    res = run("node", "join", task, "--amount", "1", as_="node", ok=False)
    assert "minimum stake is 10 ARENA for nodes" in error_line(res)
    assert arena.allowance(actors.node) == node_allowance
    creator_allowance = arena.allowance(actors.creator)
    res = run("node", "join", task, "--amount", "50", as_="creator", ok=False)
    assert "creator" in error_line(res)
    assert arena.allowance(actors.creator) == creator_allowance
    res = run("node", "submit", 999, task_files["model"], as_="node", ok=False)
    assert "task 999 does not exist" in error_line(res)


def test_transfer_and_balance(run, arena, actors):
    before = arena.balance(actors.attacker)
    res = run("transfer", actors.attacker.address, "--amount", "12.5", as_="deployer")
    assert f"sent 12.5 ARENA from {actors.deployer.address}" in res.output
    assert arena.balance(actors.attacker) == before + 12 * TOKEN + TOKEN // 2
    res = run("balance", actors.attacker.address)
    assert res.output.split() == [actors.attacker.address, f"{before // TOKEN + 12}.5", "ARENA"]
    res = run("transfer", "0x1234", "--amount", "1", as_="deployer", ok=False)
    assert "is not an address" in res.output
    res = run("transfer", actors.deployer.address, "--amount", "1e12", as_="attacker", ok=False)
    assert "less than" in error_line(res)


# --------------------------------------------------------------------------- node / store
def test_node_check_static_and_local_score(run, task_files, tmp_path):
    res = run("node", "check", task_files["model"], "--spec", task_files["spec"], network=False)
    assert "passes the static checks" in res.output
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(build_digits_onnx(out_name="wrong").SerializeToString())
    res = run("node", "check", broken, "--spec", task_files["spec"], network=False, ok=False)
    assert "signature_mismatch" in error_line(res)
    shard = task_files["manifest"].path(0)
    res = run(
        "node", "check", task_files["model"], "--spec", task_files["spec"], "--data", shard,
        "--json", network=False,
    )  # fmt: skip
    out = json.loads(res.output)
    assert out["score"] is not None and out["score"] > 0 and out["rows"] == 30
    assert out["warnings"] == []


def test_node_check_warns_when_the_output_looks_like_probabilities(run, task_files, tmp_path):
    """The spec wants logits; a model that ends in Softmax is not invalid, but its score is
    not what its author thinks: node check says so."""
    from onnx import helper

    model = build_digits_onnx()
    model.graph.node[-1].output[0] = "scores"
    model.graph.node.append(helper.make_node("Softmax", ["scores"], ["logits"], axis=-1))
    probs = tmp_path / "probs.onnx"
    probs.write_bytes(model.SerializeToString())
    shard = task_files["manifest"].path(0)
    res = run(
        "node", "check", probs, "--spec", task_files["spec"], "--data", shard, "--json",
        network=False,
    )  # fmt: skip
    (warning,) = json.loads(res.output)["warnings"]
    assert "looks like probabilities" in warning and "logits" in warning
    res = run("node", "check", probs, "--spec", task_files["spec"], "--data", shard, network=False)
    assert "WARNING: the output 'logits' looks like probabilities" in res.output


def test_store_put_get(run, task_files, tmp_path):
    res = run("store", "put", task_files["model"], network=False)
    sha, uri = res.output.split()
    out = tmp_path / "copy.onnx"
    run("store", "get", uri, "--sha256", sha, "-o", out, network=False)
    assert out.read_bytes() == task_files["model"].read_bytes()
    res = run("store", "get", uri, "--sha256", "00" * 32, network=False, ok=False)
    assert "expected hash is" in error_line(res)


# --------------------------------------------------------------------------- whole task
def test_whole_task_from_the_command_line(run, arena, actors, task_files):
    task = create_task(run, task_files)
    run("node", "join", task, "--amount", "100", "--commission", "10%", as_="node")
    arena.join(task, Role.VALIDATOR, 500 * TOKEN, sender=actors.validator)
    res = run("delegator", "delegate", task, actors.node.address, "--amount", "50", as_="delegator")
    assert "active from round 0" in res.output

    # commit window not open yet: one-line explanation
    res = run("node", "submit", task, task_files["model"], as_="node", ok=False)
    assert "the commit phase of round 0 opens at" in error_line(res)

    arena.wait_for_phase(task, 0, Phase.COMMIT)
    res = run("node", "submit", task, task_files["model"], as_="node")
    assert "round 0; reveal it" in res.output
    res = run("node", "reveal", task, as_="node", ok=False)
    assert "reveal-phase" not in res.output and "reveal phase of round 0 opens at" in error_line(
        res
    )

    arena.wait_for_phase(task, 0, Phase.EVAL)
    res = run("task", "reveal-eval", task, 0, as_="creator")
    assert arena.round_info(task, 0).eval_revealed and "revealed task" in res.output
    arena.wait_for_phase(task, 0, Phase.REVEAL)
    res = run("node", "reveal", task, as_="node")
    sha = task_files["model"].read_bytes()
    subs = arena.submissions(task, 0)
    assert len(subs) == 1 and subs[0].node == actors.node.address
    assert subs[0].model_sha256.hex() in res.output
    assert sha

    arena.wait_for_phase(task, 0, Phase.SCORE_COMMIT)
    arena.ensure_committees(task, 0, sender=actors.validator)  # the only validator: all slots
    salt = b"\x05" * 32
    arena.commit_scores(task, [400_000_000], salt, sender=actors.validator)
    arena.wait_for_phase(task, 0, Phase.SCORE_REVEAL)
    arena.reveal_scores(task, [400_000_000], salt, sender=actors.validator)

    res = run("task", "finalize", task, as_="attacker", ok=False)
    assert "round 0 ends at" in error_line(res)
    arena.wait_until(arena.round_end(task, 0))
    res = run("task", "finalize", task, "--max-steps", "2", as_="attacker")
    assert "finalized round(s) 0 of task" in res.output

    rep = json.loads(run("task", "show", task, "--round", "0", "--json").output)
    (r0,) = rep["rounds"]
    assert r0["stage"] == "done" and r0["void"] is None
    (sub,) = r0["submissions"]
    assert sub["rank"] == 0 and sub["consensus"] == 0.4 and sub["reward"] > 0
    (val,) = r0["validators"]
    assert val["deviation"] == 0 and val["agreement"] == 1 and val["reward"] > 0
    assert val["scores"] == [0.4] and val["slash"] == 0
    text = run("task", "show", task).output
    assert "leaderboard" in text and "validators (D" in text

    res = run("claim", task, as_="node")
    assert re.search(r"claimed [1-9][\d.]* ARENA \(your own rewards", res.output)
    # what is not claimable yet is named, with when it vests
    from ape_arena.protocol import WAD, fmt_tokens

    earned = arena.participant(task, actors.node).owner_earned
    delta = arena.task_params(task).delta
    vesting = fmt_tokens(earned - earned * delta // WAD)
    assert f"0 more claimable now; {vesting} more vest when task {task} ends" in res.output
    res = run("delegator", "claim", task, actors.node.address, as_="delegator")
    assert re.search(r"claimed [1-9][\d.]* ARENA \(your share of", res.output)
    assert re.search(rf"; about [1-9][\d.]* more vest when task {task} ends", res.output)
    res = run("withdraw", task, as_="node", ok=False)
    assert "stake stays locked until task" in error_line(res)

    arena.wait_until(arena.round_end(task, 2))
    res = run("task", "finalize", task, as_="attacker")
    assert "1, 2" in res.output and "the task has ended" in res.output
    res = run("withdraw", task, as_="node")
    assert "withdrew 100 ARENA (your stake" in res.output
    res = run("delegator", "withdraw", task, actors.node.address, as_="delegator")
    assert "withdrew 50 ARENA (your delegation" in res.output
    res = run("task", "refund", task, as_="creator")
    assert re.search(r"refunded [1-9]", res.output)
    res = run("task", "refund", task, as_="creator", ok=False)
    assert "already claimed" in error_line(res)


def test_reveal_errors_name_the_fix(run, task_files, tmp_path):
    from ape_arena.evaluation.shards import build_shards, digits_eval_arrays
    from ape_arena.evaluation.spec import example

    task = create_task(run, task_files)
    other = build_shards(
        digits_eval_arrays(rows=30, seed=9), 3, tmp_path / "other", spec=example("digits")
    )
    res = run("task", "reveal-eval", task, 0, "--shards", other.folder, as_="creator", ok=False)
    assert f"is not task {task}'s shard set" in error_line(res)
    run("node", "join", task, "--amount", "10", as_="node")
    res = run("node", "reveal", task, as_="node", ok=False)
    assert "no local commitment" in error_line(res) and "node submit" in error_line(res)
    res = run("node", "submit", task, task_files["model"], as_="node2", ok=False)
    assert "has not joined task" in error_line(res) and "node join" in error_line(res)


def test_reveal_refuses_a_stale_local_record(run, arena, task_files, project_dir):
    task = create_task(run, task_files)
    run("node", "join", task, "--amount", "10", as_="node")
    arena.wait_for_phase(task, 0, Phase.COMMIT)
    run("node", "submit", task, task_files["model"], as_="node")
    (path,) = (project_dir / ".arena" / "state" / "node").rglob(f"task-{task}-*.json")
    state = json.loads(path.read_text())
    state["rounds"]["0"]["commitment"] = "0x" + "00" * 32
    path.write_text(json.dumps(state))
    arena.wait_for_phase(task, 0, Phase.REVEAL)
    res = run("node", "reveal", task, as_="node", ok=False)
    assert "does not match your on-chain commitment" in error_line(res)


# --------------------------------------------------------------------------- hands-free loops
def test_run_loops_drive_a_whole_task(run, arena, actors, task_files, tmp_path):
    """`task run`, `node run` (one with --models, one with --command) and `validator run`,
    each called with --once at every phase of a 3-round task (time warped in between):
    shards revealed, models committed and revealed, rounds scored, finalized, rewards
    claimed, stakes withdrawn and the refund taken, with no per-round manual command."""
    import sys

    task = create_task(run, task_files)
    models = tmp_path / "models"
    models.mkdir()
    (models / "a.onnx").write_bytes(build_digits_onnx(seed=11).SerializeToString())
    made = tmp_path / "made"
    made.mkdir()
    for r in range(3):
        (made / f"m{r}.onnx").write_bytes(build_digits_onnx(seed=20 + r).SerializeToString())
    command = (
        f"{sys.executable} -c \"import os; print('training...'); "
        f"print('{made}/m' + os.environ['ARENA_ROUND'] + '.onnx')\""
    )
    run("node", "join", task, "--amount", "50", as_="node")
    run("node", "join", task, "--amount", "50", as_="node2")
    for who in ("validator", "validator2"):
        run("validator", "join", task, "--amount", "500", as_=who)
    run("delegator", "delegate", task, actors.node.address, "--amount", "20", as_="delegator")

    def nodes() -> list[str]:
        return [
            run("node", "run", task, "--models", models, "--once", as_="node").output,
            run("node", "run", task, "--command", command, "--once", as_="node2").output,
        ]

    def validators() -> None:
        for who in ("validator", "validator2"):
            run("validator", "run", task, "--once", "--threads", "1", as_=who)

    for r in range(3):
        arena.wait_for_phase(task, r, Phase.COMMIT)
        out = nodes()
        assert f"round {r}: committed" in out[0] and f"round {r}: committed" in out[1]
        assert f"m{r}.onnx" in out[1]
        assert all("committed" not in o for o in nodes())  # again in the phase: nothing new
        assert arena.model_commit(task, r, actors.node).committed
        arena.wait_for_phase(task, r, Phase.EVAL)
        out = run("task", "run", task, "--once", as_="creator").output
        assert f"round {r}: revealed the eval shard" in out
        assert arena.round_info(task, r).eval_revealed
        arena.wait_for_phase(task, r, Phase.REVEAL)
        out = nodes()
        assert f"round {r}: revealed" in out[0] and f"round {r}: revealed" in out[1]
        assert arena.round_info(task, r).num_submissions == 2
        arena.wait_for_phase(task, r, Phase.SCORE_COMMIT)
        validators()
        arena.wait_for_phase(task, r, Phase.SCORE_REVEAL)
        validators()
        (models / f"b{r}.onnx").write_bytes(build_digits_onnx(seed=30 + r).SerializeToString())
        if r == 1:  # mid-task: each account's overview (round 0 is finalized by now)
            mine = json.loads(run("status", "--json", as_="node").output)["tasks"]
            (row,) = [t for t in mine if t["task"] == task]
            assert row["role"] == "node" and row["stake"] == 50 * TOKEN
            assert row["delegated"] == 20 * TOKEN and row["vesting_exact"]
            earned = arena.participant(task, actors.node).owner_earned
            assert row["vesting"] == earned - earned * arena.task_params(task).delta // 10**18
            theirs = json.loads(run("status", actors.delegator.address, "--json").output)
            (d,) = [t for t in theirs["tasks"] if t["task"] == task]
            assert d["role"] == "delegator" and d["participant"] == actors.node.address
            assert d["stake"] == 20 * TOKEN and d["withdrawable"] == 0
            text = run("status", as_="creator").output
            assert f"task {task} (active): creator; refund 0 ARENA" in text

    arena.wait_until(arena.round_end(task, 2))
    out = run("task", "run", task, "--once", as_="creator").output
    assert "finalized" in out and f"task {task} ended" in out
    assert arena.task_state(task).status == Status.ENDED
    before = {n: arena.balance(getattr(actors, n)) for n in ("node", "node2")}
    for who, extra in (("node", ("--models", models)), ("node2", ("--command", command))):
        out = run("node", "run", task, *extra, "--once", as_=who).output
        assert "withdrew stake 50 ARENA" in out
    for n in ("node", "node2"):  # rewards and stake came back
        assert arena.balance(getattr(actors, n)) > before[n] + 50 * TOKEN - 1
        assert arena.claimable(task, getattr(actors, n)) == 0
        assert arena.withdrawable(task, getattr(actors, n)) == 0
    validators()
    for who in ("validator", "validator2"):
        assert arena.withdrawable(task, getattr(actors, who)) == 0
        for r in range(3):
            vr = arena.validator_round(task, r, getattr(actors, who))
            assert vr.revealed and vr.reward > 0 and vr.slash == 0


def test_node_run_needs_exactly_one_model_source(run, arena, actors, task_files, tmp_path):
    task = create_task(run, task_files)
    run("node", "join", task, "--amount", "50", as_="node")
    res = run("node", "run", task, "--once", as_="node", ok=False)
    assert "give exactly one of --models DIR and --command CMD" in error_line(res)
    res = run("task", "run", task, "--once", as_="node", ok=False)
    assert "is not the creator of task" in error_line(res)


def test_wrong_chain_id_is_explained_with_the_fix():
    """An anvil started without --chain-id 1337 behind ethereum:local:node: its signer
    error becomes one line that says to use `make chain` (no traceback)."""
    import click
    from ape_arena.cli.common import errors

    with pytest.raises(click.ClickException) as info:
        with errors():
            raise ValueError("{'code': -32003, 'message': 'invalid chain id for signer'}")
    text = info.value.message
    assert "make chain" in text and "--chain-id 1337" in text and "runs chain id" in text
