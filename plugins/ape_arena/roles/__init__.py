"""What each participant does: ``creator`` (create a task, reveal its eval shards, report),
``node`` (check, submit and reveal a model), ``validator`` (the crash-safe per-round loop:
score, commit, reveal, finalize, claim), with the validator's saved round state in
``validator_state`` and the task's phase arithmetic in ``clock``.

Roles combine the two layers below them: ``protocol`` (the chain) and ``evaluation``
(scoring). They never import ``cli`` or ``tools``.
"""
