"""AIArena Ape plugin: ``ape arena …`` for task creators, nodes, validators and delegators.

Heavy imports (torch, onnxruntime, triton) live inside the functions that need them so that
``ape --help`` and ``ape arena --help`` stay fast.
"""

from ape import plugins


@plugins.register(plugins.Config)
def config_class():
    from .config import ArenaConfig

    return ArenaConfig
