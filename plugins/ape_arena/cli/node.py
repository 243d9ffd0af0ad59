"""``ape arena node``: commands for training nodes."""

from __future__ import annotations

import click

from .common import (
    arena_command,
    artifact_store,
    connect,
    echo_json,
    errors,
    join_options,
    loop_options,
    run_role_loop,
    state_dir,
    status,
    wait_printer,
)
from .common import (
    autosign as do_autosign,
)


@click.group()
def node():
    """Training nodes: join a task, check a model against the spec, submit and reveal it."""


@arena_command(name="join")
@join_options
def join(network, account, arena_address, task_id, amount, commission):
    """Join a task as a training node (or top up your stake); approves the stake first.

    Stake added during round r counts from round r+1 (before the start: from round 0).

    \b
    Example:
        ape arena node join 1 --amount 100 --commission 10% --network ethereum:local:node
    """
    from ..protocol import Role, fmt_tokens

    client = connect(network, account, arena_address)
    with errors(), status(f"joining task {task_id}"):
        client.join(task_id, Role.NODE, amount, commission)
        p = client.participant(task_id, client.account)
    click.echo(
        f"{client.account.address} is a node in task {task_id}: own stake {fmt_tokens(p.own)} "
        f"ARENA (pending {fmt_tokens(p.own_pending)} from round {p.pending_round})"
    )


@click.command(name="check")
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--spec",
    "spec_file",
    type=click.Path(exists=True, dir_okay=False),
    required=True,
    help="The task spec JSON (what `task show` lists as spec_uri).",
)
@click.option(
    "--data",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Your own data as an npz in the spec's eval format: scores the model locally.",
)
@click.option(
    "--base",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="The task's base model (ONNX): needed to check a LoRA adapter (.safetensors).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def check(model, spec_file, data, base, as_json):
    """Check MODEL (ONNX, or a LoRA adapter with --base) against a task spec before any
    money moves.

    Runs the validators' static checks (size, opset, ops, parameters, signature; for an
    adapter, its rules and then those of its merge into the base) and, with --data, scores
    the model on your data with the validators' engine. No chain needed.

    \b
    Example:
        ape arena node check model.onnx --spec digits.json --data mine.npz
        ape arena node check adapter.safetensors --spec chat.json --base base.onnx
    """
    from ..roles.node import check as do_check

    with errors(), status("checking the model"):
        res = do_check(model, spec_file, data=data, base=base)
    if as_json:
        echo_json(res.__dict__)
    else:
        click.echo(
            f"OK: {model} passes the static checks (sha256 {res.sha256}, {res.num_params} "
            f"parameters, {res.size_bytes} bytes, opset {res.opset})"
        )
        if data is not None:
            if res.score is None:
                click.echo(f"local score: INVALID ({res.reason})")
            else:
                click.echo(f"local score on {res.rows} rows: {res.score / 1e9:.6f} (loss)")
        for warning in res.warnings:
            click.echo(f"WARNING: {warning}", err=True)
    if data is not None and res.score is None:
        raise SystemExit(1)


@arena_command(name="submit")
@click.argument("task_id", metavar="TASK", type=int)
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--uri-base",
    default=None,
    metavar="URL",
    help="Publish the model as URL/<sha256> (e.g. `ape arena store serve`'s address).",
)
@click.option("--wait", is_flag=True, help="Wait for the next commit window if none is open.")
@click.option("--no-check", is_flag=True, help="Skip the static checks against the task's spec.")
def submit(network, account, arena_address, task_id, model, uri_base, wait, no_check):
    """Submit MODEL to a task: check it, store it, commit its hash for the current round.

    The hash is saved locally (state folder) so `node reveal` can reveal it later.

    \b
    Example:
        ape arena node submit 1 model.onnx --wait --network ethereum:local:node
    """
    from ..roles.node import submit as do_submit

    client = connect(network, account, arena_address)
    with errors(), status(f"submitting to task {task_id}"):
        sub = do_submit(
            client, task_id, model, store=artifact_store(), state_dir=state_dir(),
            uri_base=uri_base, check_spec=not no_check, wait=wait,
            on_wait=wait_printer("the commit phase"),
        )  # fmt: skip
    click.echo(
        f"committed model {sub.model_sha256} to task {task_id} round {sub.round}; "
        f"reveal it in the reveal phase with `ape arena node reveal {task_id}`"
    )


@arena_command(name="reveal")
@click.argument("task_id", metavar="TASK", type=int)
@click.option("--round", "round_", type=int, default=None, help="Round (default: current).")
@click.option("--wait", is_flag=True, help="Wait for the reveal phase first.")
def reveal(network, account, arena_address, task_id, round_, wait):
    """Reveal the model you committed in this round (hash and URI from the local state).

    \b
    Example:
        ape arena node reveal 1 --wait --network ethereum:local:node
    """
    from ..roles.node import reveal as do_reveal

    client = connect(network, account, arena_address)
    with errors(), status(f"revealing in task {task_id}"):
        out = do_reveal(
            client, task_id, round_, state_dir=state_dir(), wait=wait,
            on_wait=wait_printer("the reveal phase"),
        )  # fmt: skip
    click.echo(f"revealed model {out['model_sha256']} in task {task_id} round {out['round']}")


@arena_command(name="run")
@click.argument("task_id", metavar="TASK", type=int)
@click.option(
    "--models",
    "models_dir",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="Each round, submit the newest *.onnx (or LoRA adapter *.safetensors) in this folder.",
)
@click.option(
    "--command",
    default=None,
    metavar="CMD",
    help="Each round, run CMD (ARENA_TASK and ARENA_ROUND in its environment) and submit "
    "the model whose path it prints on its last line.",
)
@click.option(
    "--uri-base",
    default=None,
    metavar="URL",
    help="Publish models as URL/<sha256> (e.g. `ape arena store serve`'s address).",
)
@click.option(
    "--serve",
    "serve_port",
    type=click.IntRange(1, 65535),
    default=None,
    metavar="PORT",
    help="Serve the local artifact store on 127.0.0.1:PORT for as long as the loop runs, so "
    "each model stays fetchable until its round is scored; publishes "
    "http://127.0.0.1:PORT/<sha256> unless --uri-base names another address.",
)
@loop_options
def run(
    network, account, arena_address, task_id, models_dir, command, uri_base, serve_port, once,
    poll, no_finalize, autosign,
):  # fmt: skip
    """Work TASK as a training node until it ends, hands-free: each round take a model
    (--models DIR or --command CMD), check it against the spec, submit it in the commit
    phase, reveal it in the reveal phase (after checking its URI answers), finalize rounds
    that are over, claim what vested; at the end claim the rest and withdraw the stake.

    Crash-safe: each commitment is saved in the state folder before its transaction; run
    the same command again after a crash and it carries on. One `node run` per account,
    task and chain (a second one exits, naming the first).

    \b
    Example:
        ape arena node run 1 --models models/ --network ethereum:local:node --account TEST::2
        ape arena node run 1 --command "python train.py" --network ethereum:local:node --account TEST::2
        ape arena node run 1 --models models/ --serve 8766 --network ethereum:local:node --account TEST::3
    """
    from ..roles.loop import LoopError
    from ..roles.node_loop import NodeLoop

    client = connect(network, account, arena_address)
    if autosign:
        do_autosign(client.account)
    try:
        with errors():
            client._check_task(task_id)
            loop = NodeLoop(
                client, task_id, client.account, store=artifact_store(), state_dir=state_dir(),
                models_dir=models_dir, command=command, uri_base=uri_base,
                finalize=not no_finalize, log=click.echo,
                name=f"node {client.account.address[:8]}",
            )  # fmt: skip
    except LoopError as err:
        raise click.ClickException(str(err)) from None
    served = None
    if serve_port is not None:
        from ..evaluation.store import serve

        store = artifact_store()
        store.root.mkdir(parents=True, exist_ok=True)
        try:
            served = serve(store.root, "127.0.0.1", serve_port)
        except OSError as exc:
            raise click.ClickException(
                f"cannot serve the store on 127.0.0.1:{serve_port} ({exc.strerror}); pick "
                "another --serve port, or publish through a running `ape arena store serve` "
                "with --uri-base"
            ) from None
        loop.uri_base = uri_base or served.url
        click.echo(f"serving the artifact store {store.root} at {served.url}")
    click.echo(f"working task {task_id} as node {client.account.address}")
    try:
        run_role_loop(loop, once, poll)
    finally:
        if served is not None:
            served.stop()


@click.command(name="train-lora")
@click.argument("chats", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--spec",
    "spec_file",
    type=click.Path(exists=True, dir_okay=False),
    required=True,
    help="The task spec JSON (a chat task with a base model).",
)
@click.option(
    "--base-hf",
    type=click.Path(exists=True, file_okay=False),
    required=True,
    help="The base as a transformers checkpoint folder (config.json + weights), "
    "as the creator publishes it beside the ONNX base.",
)
@click.option(
    "--tokenizer",
    type=click.Path(exists=True, dir_okay=False),
    required=True,
    help="The task's tokenizer.json (its sha256 must be the spec's).",
)
@click.option(
    "--base",
    "base_onnx",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="The task's ONNX base: checks the checkpoint holds the same weights.",
)
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False),
    default="adapter.safetensors",
    show_default=True,
    help="Where to write the adapter.",
)
@click.option("--rank", type=int, default=None, help="LoRA rank (default: the task's maximum).")
@click.option("--alpha", type=float, default=None, help="LoRA alpha (default: 2 x rank).")
@click.option(
    "--module",
    "modules",
    multiple=True,
    help="Projections to adapt, e.g. --module q_proj (default: all the task allows).",
)
@click.option(
    "--steps",
    type=click.IntRange(1),
    default=200,
    show_default=True,
    help="Optimizer steps (AdamW).",
)
@click.option(
    "--lr",
    type=click.FloatRange(0, min_open=True),
    default=1e-2,
    show_default=True,
    help="Learning rate.",
)
@click.option(
    "--batch", type=click.IntRange(1), default=16, show_default=True, help="Dialogues per step."
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the LoRA init and the batches (same seed, same adapter).",
)
def train_lora(chats, spec_file, base_hf, tokenizer, base_onnx, out, rank, alpha, modules, steps,
               lr, batch, seed):  # fmt: skip
    """Fine-tune a LoRA adapter of the task's base on your chat data (JSONL, ShareGPT-style)
    with peft; write it in the task's adapter format.

    The dialogues are cut with the task's tokenizer and template; the loss counts the
    assistant answers only, as the validators' does. The adapter carries the base's and the
    tokenizer's sha256, and names the base export's ONNX weights. Needs the `lm` extra
    (transformers, peft).

    \b
    Example:
        ape arena node train-lora mine.jsonl --spec chat.json --base-hf base-hf \\
            --tokenizer tokenizer.json --base base.onnx -o adapter.safetensors
        ape arena node check adapter.safetensors --spec chat.json --base base.onnx --data eval.npz
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from ..evaluation.spec import TaskSpec
    from ..roles.node_train import TrainError
    from ..roles.node_train import train_lora as do_train
    from .common import console

    with errors():
        spec = TaskSpec.load(spec_file)
    with Progress(TextColumn("training"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("loss {task.fields[loss]}"), console=console()) as bar:  # fmt: skip
        job = bar.add_task("train", total=steps, loss="-")
        try:
            res = do_train(
                spec, base_hf, tokenizer, chats, out, base_onnx=base_onnx, rank=rank,
                alpha=alpha, modules=list(modules) or None, steps=steps, lr=lr, batch=batch,
                seed=seed, on_step=lambda i, loss: bar.update(job, completed=i, loss=f"{loss:.3f}"),
            )  # fmt: skip
        except (TrainError, ImportError) as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(
        f"wrote {res.path} (sha256 {res.sha256}): rank {res.rank} on {len(res.modules)} "
        f"weights, {res.dialogues} dialogues ({res.answer_tokens} answer tokens), loss "
        f"{res.first_loss:.3f} -> {res.last_loss:.3f}"
    )
    base_hint = f" --base {base_onnx}" if base_onnx else " --base BASE.onnx"
    click.echo(f"next: ape arena node check {res.path} --spec {spec_file}{base_hint} "
               "--data EVAL.npz")  # fmt: skip


@click.command(name="seal")
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.option("--uri", default="", help="Where validators fetch the data file (default: the "
              "model's own store, the model's sha256 replaced by the data's).")  # fmt: skip
def seal(model, uri):
    """Declare MODEL's external-data file (weights over ONNX's 2 GiB limit): writes the data
    file's sha256 into the model's metadata, so the model's hash commits to it.

    The data must be one file with a bare name beside MODEL (onnx.save_model with
    save_as_external_data=True, all_tensors_to_one_file=True). Language-model tasks only.

    \b
    Example:
        ape arena node seal model.onnx && ape arena node check model.onnx --spec chat.json
    """
    from ..evaluation.external import ExternalDataError
    from ..evaluation.external import seal as do_seal

    try:
        ext = do_seal(model, uri)
    except (ExternalDataError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    if ext is None:
        click.echo(f"{model} keeps every weight in the file: nothing to seal")
        return
    click.echo(f"sealed {model}: {ext.tensors} tensors in {ext.location} (sha256 {ext.sha256})")


for _cmd in (join, check, submit, reveal, run, train_lora, seal):
    node.add_command(_cmd)
