"""``make demo-llm`` on the session's anvil: the language-model demo's own checks (adapters
trained with ``node train-lora`` ahead of the base's loss, the whole model's external data
fetched by every validator, totals balance, everyone withdrew) must pass."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.anvil, pytest.mark.slow]


def test_the_language_model_demo_passes_its_checks(chain, tmp_path):
    from ape.logging import logger
    from ape_arena.tools.demo_llm import DemoLLM

    lines: list[str] = []
    demo = DemoLLM(log=lines.append, workdir=tmp_path / "demo-llm")
    with logger.at_level("WARNING"):
        assert demo.run(), "\n".join(lines[-30:])
    text = "\n".join(lines)
    assert "node-lora-0: `node train-lora` on" in text and "validators fetch the base once" in text
    assert "whole.onnx.data (sealed" in text  # the whole model's weights in external data
    # the nodes' hands-free loops (`node run --models DIR`) took the adapter files
    assert "round 0: committed" in text and "adapter-0.safetensors" in text
    task = 1
    client = demo.client
    subs = client.submissions(task, 0)
    assert len(subs) == 5 and all(s.consensus < 2**64 - 2 for s in subs)
