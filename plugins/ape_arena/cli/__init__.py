"""Command groups of ``ape arena``, one module per role."""
