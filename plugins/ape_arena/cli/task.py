"""``ape arena task``: commands for task creators (and anyone inspecting a task)."""

from __future__ import annotations

import click

from ..protocol import DEFAULT_FINALIZE_STEPS
from .common import (
    AMOUNT,
    DURATION,
    FRACTION,
    SCORE,
    WadFraction,
    arena_command,
    artifact_store,
    connect,
    echo_json,
    errors,
    loop_options,
    page_options,
    run_role_loop,
    state_dir,
    status,
    wait_printer,
)
from .common import (
    autosign as do_autosign,
)

shards_option = click.option(
    "--shards",
    "shard_dir",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="Shard folder (default: the one recorded by `task create`).",
)


@click.group()
def task():
    """Task creators: create a task from a spec and eval shards, reveal shards, show results."""


# --------------------------------------------------------------------------- create
@arena_command(name="create")
@click.argument("spec_file", type=click.Path(exists=True, dir_okay=False))
@click.argument("shard_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--bounty", type=AMOUNT, required=True, help="Reward pool in ARENA (e.g. 3000).")
@click.option("--rounds", type=int, default=None, help="Rounds (default: one per shard).")
@click.option(
    "--start-in",
    type=DURATION,
    default="10m",
    show_default=True,
    help="Delay before round 0 (stake deposited before the start counts in round 0).",
)
@click.option(
    "--phase-seconds",
    type=DURATION,
    default="1h",
    show_default=True,
    help="Length of each of the five phases (override one with the options below).",
)
@click.option(
    "--commit", "commit_duration", type=DURATION, default=None, help="Commit phase length."
)
@click.option(
    "--eval",
    "eval_duration",
    type=DURATION,
    default=None,
    help="Eval phase length (the creator reveals the round's shard, after the commits).",
)
@click.option(
    "--reveal", "reveal_duration", type=DURATION, default=None, help="Reveal phase length."
)
@click.option(
    "--score-commit",
    "score_commit_duration",
    type=DURATION,
    default=None,
    help="Score-commit phase length.",
)
@click.option(
    "--score-reveal",
    "score_reveal_duration",
    type=DURATION,
    default=None,
    help="Score-reveal phase length.",
)
@click.option("--min-node-stake", type=AMOUNT, default="10", show_default=True)
@click.option("--min-validator-stake", type=AMOUNT, default="100", show_default=True)
@click.option(
    "--gamma",
    type=WadFraction(maximum=None),
    default="0.1",
    show_default=True,
    help="Share of each pot guaranteed to each side (<= 0.5).",
)
@click.option(
    "--delta",
    type=FRACTION,
    default="0.5",
    show_default=True,
    help="Part of every reward claimable at once (the rest at task end).",
)
@click.option(
    "--rank-ratio",
    type=FRACTION,
    default="0.8",
    show_default=True,
    help="q: a node's weight is q^t, t = its distance to the best in units of --rank-epsilon.",
)
@click.option(
    "--rank-epsilon",
    type=WadFraction(maximum=None),
    default="0.01",
    show_default=True,
    help="epsilon: a loss gap of epsilon x the best loss costs one factor q; of the models "
    "within epsilon of each other only the one revealed first in the task earns.",
)
@click.option(
    "--tolerance",
    type=WadFraction(maximum=None),
    default="0.1",
    show_default=True,
    help="tau: relative deviation at which a validator's agreement reaches 0.",
)
@click.option(
    "--slash-tau",
    type=WadFraction(maximum=None),
    default="0.5",
    show_default=True,
    help="Relative deviation above which a validator is slashed.",
)
@click.option(
    "--slash-miss",
    type=FRACTION,
    default="0.1",
    show_default=True,
    help="Slash for committing scores without revealing.",
)
@click.option(
    "--slash-dev",
    type=FRACTION,
    default="0.1",
    show_default=True,
    help="Slash for deviating more than --slash-tau.",
)
@click.option(
    "--slash-node-miss",
    type=FRACTION,
    default="0.1",
    show_default=True,
    help="Slash of a node's own stake for committing a model and not revealing it once the "
    "eval shard is out.",
)
@click.option(
    "--min-committee",
    type=int,
    default=1,
    show_default=True,
    help="Completed score reveals a submission's committee needs (1..256); with fewer the "
    "submission is unscored: no rank weight, nobody slashed over it.",
)
@click.option(
    "--committee-size",
    type=int,
    default=64,
    show_default=True,
    help="Expected validators per submission's committee (1..64): each round a submission "
    "is scored by its committee, drawn on-chain (`draw`); with few validators (K x stake >= "
    "total stake) everyone scores everything.",
)
@click.option(
    "--keeper-tip",
    type=AMOUNT,
    default="0",
    show_default=True,
    help="ARENA paid from each round's pot to whoever sends `draw` (per call) and finalize "
    "(per unit of work), so large rounds get finalized; at most bounty / rounds / 10 per "
    "round goes to keepers (0 = none).",
)
@click.option(
    "--baseline",
    "baseline_score",
    type=SCORE,
    default="0",
    show_default=True,
    help="Loss a model must beat to be rewarded (0 = none).",
)
@click.option(
    "--uri-base",
    default=None,
    metavar="URL",
    help="Publish artifacts as URL/<sha256> (e.g. the address of `ape arena store serve`).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def create(network, account, arena_address, spec_file, shard_dir, bounty, rounds, start_in,
           phase_seconds, uri_base, as_json, **params):  # fmt: skip
    """Create a task: hash SPEC_FILE, commit to the shards in SHARD_DIR, deposit the bounty.

    SHARD_DIR holds one eval shard per round and manifest.json (ape_arena.evaluation.shards.build_shards).
    The spec and shards go into the artifact store; the bounty is approved and deposited.
    Prints the new task id.

    \b
    Example:
        ape arena task create digits.json shards/ --bounty 3000 --start-in 5m \\
            --phase-seconds 10m --network ethereum:local:node
    """
    from ..roles.creator import create_task

    for key in ("commit_duration", "eval_duration", "reveal_duration", "score_commit_duration",
                "score_reveal_duration"):  # fmt: skip
        if params[key] is None:
            params[key] = phase_seconds
    client = connect(network, account, arena_address)
    with errors(), status("creating task"):
        created = create_task(
            client, spec_file, shard_dir, bounty=bounty, store=artifact_store(),
            state_dir=state_dir(), rounds=rounds, start_in=start_in, uri_base=uri_base,
            log=lambda m: click.echo(m, err=True), **params,
        )  # fmt: skip
    if as_json:
        echo_json(created.__dict__)
        return
    from ..protocol import fmt_time, fmt_tokens

    click.echo(
        f"created task {created.task}: {created.num_rounds} rounds, bounty {fmt_tokens(bounty)} "
        f"ARENA, starts {fmt_time(created.start_time)}"
    )
    click.echo(f"  spec {created.spec_sha256} ({created.spec_uri})")
    click.echo(f"  eval root {created.eval_root}; shards from {created.shard_dir}")
    click.echo(
        f"next: reveal each round's shard with `ape arena task reveal-eval {created.task} R`"
    )


# --------------------------------------------------------------------------- init
@click.command(name="init")
@click.argument("data", type=click.Path(exists=True))
@click.option(
    "--kind",
    type=click.Choice(["classification", "regression", "bytes-lm", "chat-lm"]),
    required=True,
    help="classification: class ids; regression: numbers (mse); bytes-lm: text files; "
    "chat-lm: a JSONL of dialogues with --tokenizer.",
)
@click.option(
    "--rounds",
    type=click.IntRange(min=1, max=64),
    default=3,
    show_default=True,
    help="One eval shard per round.",
)
@click.option(
    "-o",
    "--out",
    type=click.Path(file_okay=False),
    required=True,
    help="Folder for spec.json and shards/.",
)
@click.option("--name", default=None, help="Task name in the spec (default: DATA's file name).")
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of the random split into shards."
)
@click.option(
    "--seq",
    type=click.IntRange(min=1, max=65536),
    default=128,
    show_default=True,
    help="bytes-lm: bytes per row; chat-lm: tokens of context.",
)
@click.option(
    "--tokenizer",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="chat-lm: the tokenizer.json (Hugging Face tokenizers) the shards are cut with.",
)
@click.option(
    "--tokenizer-uri",
    default="",
    help="chat-lm: where nodes fetch the tokenizer (after `ape arena store put`).",
)
@click.option("--base", type=click.Path(exists=True, dir_okay=False), default=None,
              help="chat-lm: a base model (ONNX, from export_causal_lm) nodes submit LoRA "
                   "adapters of; copied to the output folder.")  # fmt: skip
@click.option("--base-uri", default="", help="chat-lm: where validators and nodes fetch --base.")
@click.option(
    "--adapt",
    multiple=True,
    default=("q_proj", "v_proj"),
    show_default=True,
    help="chat-lm with --base: modules whose weights adapters may change.",
)
@click.option(
    "--max-rank",
    type=click.IntRange(1, 256),
    default=8,
    show_default=True,
    help="chat-lm with --base: the largest LoRA rank.",
)
def init(data, kind, rounds, out, name, seed, seq, tokenizer, tokenizer_uri, base, base_uri,
         adapt, max_rank):  # fmt: skip
    """Make a task's spec, eval shards and manifest from DATA, without writing Python.

    DATA for classification/regression: an .npz with `features` and `target` (or `X` and
    `y`), a folder with features.npy and target.npy, or a .csv of numbers (an optional
    header row; the last column is the target). For bytes-lm: a text file or a folder of
    them. For chat-lm: a JSONL of dialogues and --tokenizer tokenizer.json (copied to the
    output folder: publish it with `ape arena store put`). The spec and eval formats are in
    the README ("Task files").

    \b
    Example:
        ape arena task init iris.csv --kind classification --rounds 3 -o iris-task
        ape arena task init chats.jsonl --kind chat-lm --tokenizer tokenizer.json --seq 256 -o chat-task
        ape arena task init chats.jsonl --kind chat-lm --tokenizer tokenizer.json --base base.onnx \\
            --base-uri http://host:8766/SHA256 --adapt q_proj --adapt v_proj --max-rank 8 -o chat-task
    """
    from ..roles.task_init import TaskInitError, init_task

    try:
        with errors():
            made = init_task(
                data, kind, rounds=rounds, out=out, name=name, seed=seed, seq=seq,
                tokenizer=tokenizer, tokenizer_uri=tokenizer_uri, base=base, base_uri=base_uri,
                adapt=tuple(adapt), max_rank=max_rank,
            )  # fmt: skip
    except TaskInitError as err:
        raise click.ClickException(str(err)) from None
    spec = made.spec
    click.echo(
        f"wrote {made.spec_path} ({spec.name}: inputs {[t.shape for t in spec.inputs]}, "
        f"output {spec.output.shape}, metric {spec.metric}) and {rounds} shards of "
        f"{made.rows} rows in all to {made.shard_dir}"
    )
    if spec.chat is not None:
        where = spec.chat.tokenizer_uri or "publish it with `ape arena store put` (--tokenizer-uri)"
        click.echo(
            f"tokenizer: {made.spec_path.parent / 'tokenizer.json'} (sha256 "
            f"{spec.chat.tokenizer_sha256}); nodes need it: {where}"
        )
    if spec.chat is not None and spec.chat.base is not None:
        b = spec.chat.base
        where = b.model_uri or "publish it with `ape arena store put` and give --base-uri"
        click.echo(
            f"base: {made.spec_path.parent / 'base.onnx'} (sha256 {b.model_sha256}); adapters "
            f"may change {len(b.adaptable)} weights at rank <= {b.max_rank}; {where}"
        )
    click.echo(
        f"next: ape arena task create {made.spec_path} {made.shard_dir} --bounty N "
        "--network ethereum:local:node --account NAME"
    )


# --------------------------------------------------------------------------- reveal-eval
@arena_command(name="reveal-eval")
@click.argument("task_id", metavar="TASK", type=int)
@click.argument("round_", metavar="[ROUND]", type=int, required=False)
@shards_option
@click.option("--uri-base", default=None, metavar="URL", help="Publish the shard as URL/<sha256>.")
@click.option("--wait", is_flag=True, help="Wait for the round's reveal phase first.")
def reveal_eval(network, account, arena_address, task_id, round_, shard_dir, uri_base, wait):
    """Reveal a round's eval shard (default: the current round) with its Merkle proof.

    \b
    Example:
        ape arena task reveal-eval 1 0 --wait --network ethereum:local:node
    """
    from ..roles.creator import reveal_eval as do_reveal

    client = connect(network, account, arena_address)
    with errors(), status(f"revealing the shard of task {task_id}"):
        out = do_reveal(
            client, task_id, round_, store=artifact_store(), state_dir=state_dir(),
            shard_dir=shard_dir, uri_base=uri_base, wait=wait,
            on_wait=wait_printer("the reveal phase"),
        )  # fmt: skip
    click.echo(
        f"revealed task {task_id} round {out['round']} shard {out['shard_sha256']} "
        f"({out['shard_uri']})"
    )


# --------------------------------------------------------------------------- show
@arena_command(name="show", account=False)
@click.argument("task_id", metavar="TASK", type=int)
@click.option("--round", "round_", type=int, default=None, help="Show only this round.")
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
def show(network, arena_address, task_id, round_, as_json):
    """Show a task: schedule, pot and carry, leaderboard by consensus, validators' D and F.

    \b
    Example:
        ape arena task show 1 --round 0 --network ethereum:local:node
    """
    from ..roles.creator import task_report

    client = connect(network, None, arena_address, need_account=False)
    with errors():
        report = task_report(client, task_id, round_)
    if as_json:
        echo_json(report)
        return
    print_report(report)


@arena_command(name="list", account=False)
@page_options(20)
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def list_(network, arena_address, limit, below, as_json):
    """List the arena's tasks, newest first: creator, status, round and phase now, bounty,
    participants (validators among them).

    \b
    Example:
        ape arena task list --network ethereum:local:node
        ape arena task list --limit 50 --below 120 --json --network base:sepolia:node
    """
    from ..protocol import fmt_tokens
    from ..roles.creator import task_list

    client = connect(network, None, arena_address, need_account=False)
    with errors():
        listing = task_list(client, limit, below)
    if as_json:
        echo_json(listing)
        return
    if not listing["tasks"]:
        click.echo(f"no tasks on arena {listing['arena']} yet (ape arena task create …)")
        return
    click.echo(
        f"{'task':>5}  {'status':9}  {'round':>7}  {'phase':13}  {'bounty':>14}  {'part.':>5}  {'val.':>4}  creator"
    )
    for t in listing["tasks"]:
        where = (
            f"{t['round']}/{t['rounds']}" if t["status"] == "active" and t["round"] >= 0 else "-"
        )
        phase = t["phase"] if t["status"] == "active" else "-"
        click.echo(
            f"{t['task']:>5}  {t['status']:9}  {where:>7}  {phase:13}  "
            f"{fmt_tokens(t['bounty']):>14}  {t['participants']:>5}  {t['validators']:>4}  {t['creator']}"
        )
    if listing["next_below"]:
        click.echo(f"older tasks: ape arena task list --below {listing['next_below']}")


def _consensus_text(s: dict) -> str:
    """A submission's consensus cell: the score, or why it has none."""
    status, cons = s["status"], s["consensus"]
    if status is None:
        return "-"  # not computed yet
    if status in ("unscored", "unavailable"):
        return status  # an exact half split too far apart / more than half unavailable
    if cons is None:
        return "INVALID"
    return f"{cons:.6f}" + (" (split)" if status == "split" else "")


def print_report(rep: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    from ..protocol import fmt_time, fmt_tokens

    con = Console(soft_wrap=False, width=max(120, Console().width))
    p = rep["params"]
    now = rep["now"]
    where = now["phase"]
    if now["phase_end"]:
        where += f" of round {now['round']} (ends {fmt_time(now['phase_end'])})"
    con.print(
        f"[bold]Task {rep['task']}[/bold]  {rep['status']}  creator {rep['creator']}  "
        f"bounty {fmt_tokens(p['bounty'])} ARENA  rounds {rep['finalized_rounds']}/"
        f"{p['num_rounds']} finalized"
    )
    con.print(f"  now: {where}; chain time {fmt_time(now['time'])}")
    con.print(
        f"  participants {rep['participants']} ({rep['validators']} validators), own stake "
        f"{fmt_tokens(rep['total_own_stake'])}; carry {fmt_tokens(rep['carry'])}; refund "
        f"{fmt_tokens(rep['refund'])}{' (claimed)' if rep['refund_claimed'] else ''}"
    )
    con.print(f"  spec {p['spec_hash']} {p['spec_uri']}")
    risk = rep.get("stake_at_risk")
    if risk and risk["validators"]:
        t = Table(
            title=(
                "validators' stake at risk: a slash takes the same fraction of own stake and "
                f"of delegations (miss {risk['slash_miss']:.1%}, deviation "
                f"{risk['slash_dev']:.1%}); kept = value of 1 delegated token now"
            ),
            title_justify="left",
        )
        for col in ("validator", "own", "delegated", "slashed", "burned", "kept", "delegators"):
            t.add_column(col)
        for v in risk["validators"]:
            t.add_row(
                v["validator"],
                fmt_tokens(v["own"]),
                fmt_tokens(v["delegated"]),
                fmt_tokens(v["slashed"]),
                fmt_tokens(v["delegations_burned"]),
                f"{v['kept']:.4f}",
                "may leave now" if v["delegators_may_leave"] else "locked to the end",
            )
        con.print(t)
    for rr in rep["rounds"]:
        head = f"[bold]Round {rr['round']}[/bold]  stage {rr['stage']}"
        if rr["void"]:
            head += f"  VOID ({rr['void'].replace('_', ' ')})"
        head += (
            f"  pot {fmt_tokens(rr['pot'])} (nodes {fmt_tokens(rr['nodes_pot'])}, validators "
            f"{fmt_tokens(rr['validators_pot'])})  paid {fmt_tokens(rr['paid'])}  slashed "
            f"{fmt_tokens(rr['slashed'])}  eval {'revealed' if rr['eval_revealed'] else 'hidden'}"
        )
        con.print(head)
        if rr["submissions"]:
            t = Table(
                title="leaderboard (lower loss is better; rank = bucket winners, the rest of a "
                "bucket earns nothing)",
                title_justify="left",
            )
            for col in ("rank", "node", "consensus", "stake", "weight", "reward", "model"):
                t.add_column(col)
            for s in rr["submissions"]:
                t.add_row(
                    str(s.get("rank", "-")),
                    s["node"],
                    _consensus_text(s),
                    fmt_tokens(s["stake"]),
                    f"{s['weight']:.4g}",
                    fmt_tokens(s["reward"]),
                    s["model_sha256"][:18] + "…",
                )  # fmt: skip
            con.print(t)
        else:
            con.print(f"  no submissions ({rr['commits']} commits)")
        com = rr.get("committee")
        if com:
            line = (
                f"  committees: K {com['committee_size']}, W {fmt_tokens(com['weight'])}, "
                f"{com['submissions']} submissions, target block {com['target_block']}"
            )
            if com["seed"] is None:
                line += " (seed not readable yet: `draw` again after that block)"
            else:
                m = sorted(com["members"]) or [0]
                c = sorted(com["revealed"]) or [0]
                line += (
                    f"; members per submission min {m[0]} / median {m[len(m) // 2]} / max "
                    f"{m[-1]}, of them revealed min {c[0]} / median {c[len(c) // 2]} / max "
                    f"{c[-1]}; assignments per validator "
                    + ", ".join(f"{v[:10]}… {len(s)}" for v, s in com["assignments"].items())
                )
            con.print(line)
        if rr["validators"]:
            t = Table(title="validators (D = mean relative deviation, F = agreement)",
                      title_justify="left")  # fmt: skip
            for col in ("validator", "revealed", "stake", "D", "F", "reward", "slash"):
                t.add_column(col)
            for v in rr["validators"]:
                t.add_row(
                    v["validator"],
                    "yes" if v["revealed"] else ("committed" if v["committed"] else "no"),
                    fmt_tokens(v["stake"]),
                    "-" if v["deviation"] is None else f"{v['deviation']:.4g}",
                    "-" if v["agreement"] is None else f"{v['agreement']:.4g}",
                    fmt_tokens(v["reward"]),
                    fmt_tokens(v["slash"]),
                )
            con.print(t)


# --------------------------------------------------------------------------- finalize
@arena_command(name="finalize")
@click.argument("task_id", metavar="TASK", type=int)
@click.option(
    "--max-steps",
    type=click.IntRange(1, 320),
    default=DEFAULT_FINALIZE_STEPS,
    show_default=True,
    help="Most work units per transaction; a page whose gas estimate is above 14M is halved "
    "until it fits (large committees make CONSENSUS units dear; see README Gas).",
)
@click.option("--next-only", is_flag=True, help="Finalize only the next round.")
def finalize(network, account, arena_address, task_id, max_steps, next_only):
    """Finalize every round that is over (anyone may), paginated into transactions.

    \b
    Example:
        ape arena task finalize 1 --network ethereum:local:node
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn

    client = connect(network, account, arena_address)
    with errors(), Progress(SpinnerColumn(), TextColumn("{task.description}"),
                            transient=True, console=_stderr()) as prog:  # fmt: skip
        bar = prog.add_task(f"finalizing task {task_id}", total=None)

        def tick(r, info):
            prog.update(bar, description=f"task {task_id} round {r}: stage {info.stage}/5")

        res = client.finalize(task_id, max_steps=max_steps, all_rounds=not next_only, progress=tick)
    if not res.transactions:
        click.echo(f"nothing to finalize: task {task_id} has ended (all rounds are finalized)")
        return
    ended = " — the task has ended" if res.task_ended else ""
    click.echo(
        f"finalized round(s) {', '.join(map(str, res.rounds)) or 'none'} of task {task_id} "
        f"in {res.transactions} transaction(s){ended}"
    )


def _stderr():
    from .common import console

    return console()


# --------------------------------------------------------------------------- cancel / refund
@arena_command(name="cancel")
@click.argument("task_id", metavar="TASK", type=int)
def cancel(network, account, arena_address, task_id):
    """Cancel a task before anyone joined; the bounty comes back.

    \b
    Example:
        ape arena task cancel 1 --network ethereum:local:node
    """
    client = connect(network, account, arena_address)
    with errors():
        client.cancel_task(task_id)
    click.echo(f"cancelled task {task_id}; the bounty was refunded")


@arena_command(name="refund")
@click.argument("task_id", metavar="TASK", type=int)
def refund(network, account, arena_address, task_id):
    """Claim what is left of an ended task's pot (void rounds, slashes, dust) as its creator.

    \b
    Example:
        ape arena task refund 1 --network ethereum:local:node
    """
    from ..protocol import fmt_tokens

    client = connect(network, account, arena_address)
    with errors():
        amount = client.claim_refund(task_id)
    click.echo(f"refunded {fmt_tokens(amount)} ARENA to the creator of task {task_id}")


@arena_command(name="run")
@click.argument("task_id", metavar="TASK", type=int)
@shards_option
@click.option("--uri-base", default=None, metavar="URL", help="Publish shards as URL/<sha256>.")
@loop_options
def run(
    network, account, arena_address, task_id, shard_dir, uri_base, once, poll, no_finalize,
    autosign,
):  # fmt: skip
    """Run TASK as its creator until it ends, hands-free: reveal each round's eval shard in
    its eval phase, finalize rounds that are over, take the refund at the end.

    Crash-safe: every action is decided from the chain; run the same command again after a
    crash and it carries on. One `task run` per task and chain.

    \b
    Example:
        ape arena task run 1 --network ethereum:local:node --account TEST::1
    """
    from ..roles.creator_loop import CreatorLoop

    client = connect(network, account, arena_address)
    if autosign:
        do_autosign(client.account)
    with errors():
        client._check_task(task_id)
    loop = CreatorLoop(
        client, task_id, client.account, store=artifact_store(), state_dir=state_dir(),
        shard_dir=shard_dir, uri_base=uri_base, finalize=not no_finalize, log=click.echo,
        name=f"creator {client.account.address[:8]}",
    )  # fmt: skip
    click.echo(f"running task {task_id} as its creator {client.account.address}")
    run_role_loop(loop, once, poll)


for _cmd in (init, create, reveal_eval, show, list_, finalize, cancel, refund, run):
    task.add_command(_cmd)
