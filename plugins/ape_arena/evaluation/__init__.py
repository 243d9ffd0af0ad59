"""Everything that turns a task spec, an eval shard and model files into scores, with no
knowledge of the chain: ``spec`` (task specs), ``store`` (content-addressed artifacts),
``shards`` and ``merkle`` (eval shards and their commitment), ``checks`` (static model
checks), ``export`` (torch -> ONNX), ``engine`` (the round: checks, dispatch, results),
``pool`` (the isolated worker processes), ``results`` (scores and events), ``worker`` (the
process that runs onnxruntime) and ``fused`` (the in-graph CPU metric).

It imports ``arena_kernels`` and never ``protocol``, ``roles``, ``tools`` or ``cli``.
"""
