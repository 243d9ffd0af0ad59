"""Plugin configuration: the ``arena:`` section of ape-config.yaml."""

from ape.api import PluginConfig


class ArenaConfig(PluginConfig):
    """Settings for ``ape arena``.

    Example ape-config.yaml::

        arena:
          deployments_dir: deployments
          store_dir: .arena/store
          state_dir: .arena/state
          ipfs_gateway: https://ipfs.io/ipfs/
    """

    deployments_dir: str = "deployments"
    """Folder with one ``<chain_id>.json`` per chain, written by ``ape run deploy``."""

    store_dir: str = ".arena/store"
    """Local content-addressed artifact store (models, eval shards, task specs)."""

    state_dir: str = ".arena/state"
    """Validator crash-safety state (scores and salts written before each commit)."""

    ipfs_gateway: str = "https://ipfs.io/ipfs/"
    """HTTP gateway used to fetch ``ipfs://`` URIs."""
