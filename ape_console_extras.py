"""``ape console`` extras: an ``arena`` object for the connected chain.

Ape imports this file when ``ape console`` starts in this project and calls
``ape_init_extras``; what it returns is added to the console's namespace.
"""


def ape_init_extras(accounts, chain, networks):
    """Return ``{"arena": ArenaClient, …}`` when a deployment for this chain exists."""
    try:
        from ape_arena import protocol as arena_chain
    except Exception as err:  # the plugin is not installed in this environment
        print(f"arena: plugin not importable ({err})")
        return {}
    try:
        local = networks.provider.network.is_local
        sender = getattr(accounts, "test_accounts", accounts)[0] if local else None
        arena = arena_chain.ArenaClient.from_deployment(sender)
        count = arena.task_count()
    except Exception as err:
        print(f"arena: not available on this chain ({' '.join(str(err).split())})")
        return {}
    sender_text = sender.address if sender is not None else "none: pass sender=accounts.load(NAME)"
    print(
        f"arena: Arena {arena.address} on chain {arena.chain_id}, {count} task(s); "
        f"default sender {sender_text}\n"
        "  arena.task_params(1) / task_state(1) / current_phase(1) / round_info(1, 0) / "
        "submissions(1, 0)\n"
        "  arena.join(1, Role.NODE, 100 * TOKEN) / arena.finalize(1) / arena.claim(1)\n"
        "  arena.enable_warp(); arena.wait_for_phase(1, 0, Phase.REVEAL)   # local chains: jump time\n"
        "  model_commitment(sha, node, task, round), score_commitment(task, round, v, scores, salt)"
    )
    return {
        "arena": arena,
        "Phase": arena_chain.Phase,
        "Role": arena_chain.Role,
        "TaskParams": arena_chain.TaskParams,
        "TOKEN": arena_chain.TOKEN,
        "WAD": arena_chain.WAD,
        "model_commitment": arena_chain.model_commitment,
        "score_commitment": arena_chain.score_commitment,
    }
