"""Programs built on the roles: ``demo`` (a whole arena on a local chain), ``gas`` (the gas
report at the largest sizes), ``bench`` (validator throughput against baselines) and
``models`` (the small torch models the demo's nodes and the benchmark train).

Only ``cli`` and ``scripts/`` sit above this layer.
"""
