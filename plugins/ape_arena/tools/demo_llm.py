"""The language-model demo (``make demo-llm`` = ``ape run demo_llm``): a chat task on a
committed base model, LoRA adapters as submissions, the real engine, a whole round on a
local chain, offline and in minutes on 2 CPU cores.

* The creator makes the task's data: unit-conversion dialogues (``12 km in m?`` ->
  ``12 km is 12000 m.``) a model can learn, a byte-level BPE tokenizer trained on text with
  the ``tokenizers`` library, and a small Llama-style base built from a ``transformers``
  config and first pre-trained briefly on generic text (Python standard-library sources),
  so "beats the base" means something. The base is exported to ONNX with readable weight
  names (``evaluation/hf.py``); the spec commits to it (``chat.base``: the attention
  projections may be adapted, rank <= 8); one held-out eval shard.
* Nodes: three fine-tune LoRA adapters with ``node train-lora`` (``peft`` on the base's
  ``transformers`` checkpoint) on different slices of the training dialogues (loss on the
  answers only) and submit the adapter files; one submits a whole
  model (the base fine-tuned in full, exported whole, its weights in a sealed external-data
  file as a model over 2 GiB must be: validators fetch it beside the model); one submits
  the base unchanged. Each node submits through the hands-free loop (``node run --models
  DIR``), which checks an adapter on its merge into the base before it commits.
* Three validators run the real validator loop: they fetch the base once, merge each
  adapter into it and score every submission with the engine.
* The leaderboard shows the fine-tuned submissions ahead of the base's own loss; everyone
  claims and withdraws, the creator takes the refund, and the token totals must balance.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import click
import numpy as np

CONTEXT = 48
VOCAB = 384
ADAPT = ("q_proj", "v_proj")
RANK = 8
UNITS = (("km", "m", 1000), ("m", "cm", 100), ("kg", "g", 1000), ("h", "min", 60),
         ("min", "s", 60), ("l", "ml", 1000))  # fmt: skip
PHASE_SECONDS = 300
TOKEN = 10**18
WAD = 10**18


def dialogues(n: int, seed: int, units=UNITS) -> list[list[dict[str, str]]]:
    """Unit-conversion questions and their exact answers."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        a, b, f = units[int(rng.integers(len(units)))]
        x = int(rng.integers(1, 40))
        out.append([{"role": "user", "content": f"{x} {a} in {b}?"},
                    {"role": "assistant", "content": f"{x} {a} is {x * f} {b}."}])  # fmt: skip
    return out


def generic_text(n_bytes: int = 120_000) -> str:
    from ..evaluation.shards import stdlib_corpus

    return stdlib_corpus(n_bytes, part="train").decode("utf-8", "replace")


def train_tokenizer(texts: list[str], template: Any):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=["[PAD]", *template.markers()],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())  # fmt: skip
    tok.train_from_iterator(texts, trainer)
    return tok


def base_model(seed: int = 0):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(vocab_size=VOCAB, hidden_size=96, intermediate_size=192, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=CONTEXT,
                      attn_implementation="eager")  # fmt: skip
    torch.manual_seed(seed)
    return LlamaForCausalLM(cfg)


def _train(model, tokens, target, steps: int, lr: float, seed: int, batch: int = 16) -> float:
    """AdamW on next-token cross-entropy (``target`` -100 = not counted); last loss."""
    from ..roles.node_train import train_steps

    return train_steps(model, tokens, target, steps, lr, seed, batch)[1]


def pretrain(model, tok, text: str, steps: int, seed: int = 0) -> float:
    """Next-token pre-training on generic text windows of ``CONTEXT`` tokens."""
    ids = np.array(tok.encode(text, add_special_tokens=False).ids, dtype=np.int64)
    n = (len(ids) - 1) // CONTEXT
    tokens = ids[: n * CONTEXT].reshape(n, CONTEXT)
    target = ids[1 : n * CONTEXT + 1].reshape(n, CONTEXT)
    return _train(model, tokens, target, steps, 3e-3, seed)


def finetune_whole(base, arrays: dict, steps: int, seed: int):
    import copy

    model = copy.deepcopy(base)
    loss = _train(model, arrays["tokens"], arrays["target"], steps, 2e-3, seed)
    return model, loss


def run_demo_llm(network, log=click.echo, workdir: str | Path | None = None) -> bool:
    """Run the language-model demo on the connected local network; True when every check
    passed."""
    if not network.is_local:
        raise click.UsageError("the demo warps chain time; run it on a local network")
    from ape.logging import logger

    with logger.at_level("WARNING"):
        return DemoLLM(log, workdir).run()


class DemoLLM:
    def __init__(self, log=click.echo, workdir: str | Path | None = None):
        from rich.console import Console

        self.log = log
        self.console = Console(highlight=False, width=120)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.workdir = Path(workdir) if workdir else Path.cwd() / ".arena" / "demo-llm" / stamp
        self.t0 = time.monotonic()

    def say(self, text: str) -> None:
        self.log(f"[{time.monotonic() - self.t0:6.1f}s] {text}")

    def header(self, text: str) -> None:
        self.console.rule(f"[bold]{text}")

    # ------------------------------------------------------------------ the data and models
    def build(self) -> dict:
        import torch

        from ..evaluation.chat import ChatTemplate, chat_arrays, render
        from ..evaluation.hf import export_causal_lm
        from ..evaluation.shards import build_shards
        from ..evaluation.spec import TaskSpec, example
        from ..roles.node_train import train_lora

        torch.set_num_threads(2)
        w = self.workdir
        w.mkdir(parents=True, exist_ok=True)
        template = ChatTemplate()
        train_d, eval_d = dialogues(600, 1), dialogues(96, 2)
        text = generic_text()
        tok = train_tokenizer([text, *(render(d, template)[0] for d in train_d)], template)
        tok_path = w / "tokenizer.json"
        tok.save(str(tok_path))
        self.say(f"creator: tokenizer with {tok.get_vocab_size()} tokens (BPE, byte level)")
        base = base_model()
        loss = pretrain(base, tok, text, steps=150)
        self.say(f"creator: base model pre-trained on generic text (last loss {loss:.2f})")

        raw = example("bytes_lm").model_dump(mode="json")
        raw.update(name="unit_chat", metric="bits_per_byte",
                   description="Answer unit-conversion questions; bits per byte of the answers.")  # fmt: skip
        raw["inputs"][0]["shape"] = ["batch", CONTEXT]
        raw["output"]["shape"] = ["batch", CONTEXT, tok.get_vocab_size()]
        raw["limits"].update(max_batch_rows=32)
        tok_sha = hashlib.sha256(tok_path.read_bytes()).hexdigest()
        raw["chat"] = {"tokenizer_sha256": tok_sha, "template": template.to_dict(),
                       "context_length": CONTEXT}  # fmt: skip
        plain = TaskSpec.model_validate(raw)
        base_path = w / "base.onnx"
        base_sha, names = export_causal_lm(base, plain, base_path)
        adaptable = sorted(
            v for k, v in names.items() if k.endswith(tuple(f"{m}.weight" for m in ADAPT))
        )
        raw["chat"]["base"] = {"model_sha256": base_sha, "adaptable": adaptable, "max_rank": RANK}
        spec = TaskSpec.model_validate(raw)
        self.say(f"creator: base exported ({base_path.stat().st_size:,} bytes), "
                 f"{len(adaptable)} adaptable weights, LoRA rank <= {RANK}")  # fmt: skip

        eval_arrays = chat_arrays(eval_d, tok, template, CONTEXT)
        manifest = build_shards(eval_arrays, 1, w / "shards", spec=spec, seed=0)
        train_arrays = chat_arrays(train_d, tok, template, CONTEXT)

        # the base as a transformers checkpoint too: what nodes fine-tune with peft
        base.save_pretrained(w / "base-hf")
        subs = {}
        slices = np.array_split(np.random.default_rng(3).permutation(len(train_d)), 3)
        for i, idx in enumerate(slices):
            mine = w / f"node-lora-{i}.jsonl"
            mine.write_text("".join(json.dumps({"conversations": train_d[j]}) + "\n" for j in idx))
            path = w / f"adapter-{i}.safetensors"
            # = ape arena node train-lora mine.jsonl --spec … --base-hf base-hf --tokenizer …
            res = train_lora(spec, w / "base-hf", tok_path, mine, path, base_onnx=base_path,
                             steps=120, seed=10 + i)  # fmt: skip
            subs[f"node-lora-{i}"] = path
            self.say(f"node-lora-{i}: `node train-lora` on {res.dialogues} dialogues (loss "
                     f"{res.first_loss:.2f} -> {res.last_loss:.2f})")  # fmt: skip
        whole, loss = finetune_whole(base, train_arrays, steps=120, seed=20)
        path = w / "whole.onnx"
        # exported as a model over 2 GiB must be: its weights in one sealed external-data file
        export_causal_lm(whole, plain, path, external_data=True)
        subs["node-whole"] = path
        self.say(f"node-whole: the base fine-tuned in full (last loss {loss:.2f}), exported "
                 f"whole with its weights in {path.name}.data (sealed: its sha256 in the model)")  # fmt: skip
        subs["node-base"] = base_path
        self.say("node-base: submits the base unchanged (the loss to beat)")
        return {"spec": spec, "manifest": manifest, "base_path": base_path, "subs": subs,
                "tokenizer": tok_path}  # fmt: skip

    # ------------------------------------------------------------------ the chain
    def run(self) -> bool:
        from ape import accounts, project

        from ..evaluation.store import ArtifactStore, serve
        from ..protocol import ArenaClient
        from .demo import deploy_local, warp

        self.header("AIArena language-model demo: the task's data and the nodes' models")
        made = self.build()
        acc = accounts.test_accounts
        self.header("deploy, create the task, join")
        dep = deploy_local(acc[0], emission="Emission" in project.contracts.keys(), log=self.say)
        client = ArenaClient.at(dep.contracts["Arena"], dep.contracts["ArenaToken"], acc[0])
        client.warp = warp
        self.client = client
        public = ArtifactStore(self.workdir / "public-store")
        served = serve(public.root)
        try:
            return self._play(acc, client, public, served, made)
        finally:
            served.stop()

    def _play(self, acc, client, public, served, made) -> bool:
        from rich.table import Table

        from ..evaluation.store import ArtifactStore
        from ..protocol import Phase, Role, Status, TaskParams, fmt_score, fmt_tokens
        from ..roles.validator import Validator

        spec, manifest = made["spec"], made["manifest"]
        base_sha, _ = public.put(made["base_path"])
        raw = spec.model_dump(mode="json")
        raw["chat"]["base"]["model_uri"] = served.uri_for(base_sha)
        tok_sha, _ = public.put(made["tokenizer"])
        raw["chat"]["tokenizer_uri"] = served.uri_for(tok_sha)
        spec = type(spec).model_validate(raw)
        spec_sha, _ = public.put(spec.to_json())
        for s in manifest.shards:
            public.put(manifest.path(s.round))
        creator = acc[0]
        names = list(made["subs"])
        nodes = {n: acc[1 + i] for i, n in enumerate(names)}
        validators_acc = [acc[7], acc[8], acc[9]]
        everyone = [creator, *nodes.values(), *validators_acc]
        for a in everyone[1:]:
            client.token.transfer(a.address, 10_000 * TOKEN, sender=creator)
        start = {a.address: client.balance(a) for a in everyone}
        supply0 = sum(start.values()) + client.balance(client.address)
        now = client.now()
        params = TaskParams(
            bounty=5_000 * TOKEN, spec_hash=bytes.fromhex(spec_sha), spec_uri=served.uri_for(spec_sha),
            eval_root=manifest.tree.root, num_rounds=1, start_time=now + 600,
            commit_duration=PHASE_SECONDS, eval_duration=PHASE_SECONDS, reveal_duration=PHASE_SECONDS,
            score_commit_duration=PHASE_SECONDS, score_reveal_duration=PHASE_SECONDS,
            min_node_stake=10 * TOKEN, min_validator_stake=100 * TOKEN, gamma=WAD // 10,
            delta=WAD // 2, rank_ratio=6 * WAD // 10, rank_epsilon=WAD // 100, tolerance=WAD // 10,
            slash_tau=WAD // 20, slash_miss=WAD // 4, slash_dev=WAD // 5, slash_node_miss=WAD // 10,
            min_committee=3,
        )  # fmt: skip
        task = client.create_task(params, sender=creator)
        for a in nodes.values():
            client.join(task, Role.NODE, 100 * TOKEN, 0, sender=a)
        for a in validators_acc:
            client.join(task, Role.VALIDATOR, 500 * TOKEN, 0, sender=a)
        self.say(f"task {task}: bounty 5000 ARENA, 1 round; 5 nodes and 3 validators joined")
        validators = [
            Validator(client, task, a, state_dir=self.workdir / "validator-state",
                      store=ArtifactStore(self.workdir / f"store-val-{i}"), log=self.say,
                      name=f"val-{i}", engine_options={"threads": 1, "progress": False})
            for i, a in enumerate(validators_acc)
        ]  # fmt: skip

        self.header("round 0")
        client.wait_for_phase(task, 0, Phase.COMMIT)
        import shutil

        from ..evaluation.external import declared
        from ..roles.node_loop import NodeLoop

        # each node runs the hands-free loop (`ape arena node run TASK --models DIR`) on a
        # folder holding its submission: checks (an adapter on its merge into the base, the
        # whole model with its external data), store, commit, and later reveal
        loops = []
        for n, path in made["subs"].items():
            folder = self.workdir / "models" / n
            folder.mkdir(parents=True, exist_ok=True)
            for f in (path, path.with_name(path.name + ".data")):
                if f.is_file():
                    shutil.copy(f, folder / f.name)
            loops.append(NodeLoop(client, task, nodes[n], store=public, models_dir=folder,
                                  state_dir=self.workdir / "node-state", uri_base=served.url,
                                  log=self.say, name=n, claim=False, withdraw=False))  # fmt: skip
        for loop in loops:
            loop.step()
        if not all(client.model_commit(task, 0, nodes[n].address).committed for n in nodes):
            raise RuntimeError("a node loop did not commit its model")
        client.wait_for_phase(task, 0, Phase.EVAL)
        shard = manifest.shards[0]
        client.reveal_eval(task, 0, shard.sha256, served.uri_for(shard.sha256),
                           manifest.tree.proof(0), sender=creator)  # fmt: skip
        client.wait_for_phase(task, 0, Phase.REVEAL)
        for loop in loops:
            loop.step()
        self.say("3 adapters, 1 whole model and the base revealed; validators fetch the base once")
        client.wait_for_phase(task, 0, Phase.SCORE_COMMIT)
        for v in validators:
            v.step()
        client.wait_for_phase(task, 0, Phase.SCORE_REVEAL)
        for v in validators:
            v.step()
        client.wait_until(client.round_end(task, 0))
        for v in validators:
            v.step()

        by_node = {s.node: s for s in client.submissions(task, 0)}
        table = Table(title="round 0 leaderboard (bits per byte of the answers; lower is better)")
        for col in ("node", "submission", "consensus", "reward"):
            table.add_column(col, justify="left" if col in ("node", "submission") else "right")
        rows = sorted(made["subs"], key=lambda n: by_node[nodes[n].address].consensus)
        for n in rows:
            s = by_node[nodes[n].address]
            kind = ("LoRA adapter" if n.startswith("node-lora") else
                    "whole model" if n == "node-whole" else "the base itself")  # fmt: skip
            table.add_row(n, kind, fmt_score(s.consensus), fmt_tokens(s.reward))
        self.console.print(table)
        base_loss = by_node[nodes["node-base"].address].consensus
        ahead = [n for n in made["subs"] if n.startswith("node-lora")
                 and by_node[nodes[n].address].consensus < base_loss]  # fmt: skip

        self.header("the task ended: everyone claims and withdraws")
        failures = []
        if client.task_state(task).status != Status.ENDED:
            failures.append("the task did not end")
        for v in validators:
            v.step()
        for a in nodes.values():
            if client.claimable(task, a.address):
                client.claim(task, sender=a)
            if client.withdrawable(task, a.address):
                client.withdraw(task, sender=a)
        if client.task_state(task).refund > 0:
            client.claim_refund(task, sender=creator)
        minted = client.round_info(task, 0).emission_amount
        end = {a.address: client.balance(a) for a in everyone}
        total = sum(end.values()) + client.balance(client.address) + client.task_state(task).burned
        if total != supply0 + minted:
            failures.append(f"token totals do not balance: {total} != {supply0} + {minted}")
        if len(ahead) < 2:
            failures.append(f"only {len(ahead)} adapter(s) ahead of the base's own loss")
        if any(by_node[a.address].consensus >= 2**64 - 2 for a in nodes.values()):
            failures.append("a submission was not scored")
        ext = declared(made["subs"]["node-whole"])
        if ext is None or not all(v.store.has(ext.sha256) for v in validators):
            failures.append("the validators did not fetch the whole model's external data")
        for f in failures:
            self.console.print(f"[bold red]CHECK FAILED[/]: {f}")
        if not failures:
            self.console.print(
                f"all checks passed: {len(ahead)} of 3 adapters ahead of the base "
                f"({fmt_score(base_loss)} bits per byte), totals balance, everyone withdrew; "
                f"{(time.monotonic() - self.t0) / 60:.1f} min"
            )
        return not failures
