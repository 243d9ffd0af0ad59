"""Programs built on the roles: ``demo`` (a whole arena on a local chain), ``gas`` (the gas
report at the largest sizes), ``bench`` (validator throughput against baselines),
``models`` (the small torch models the demo's nodes and the benchmark train) and
``machine`` (what a measurement ran on).

Only ``cli`` and ``scripts/`` sit above this layer.
"""
