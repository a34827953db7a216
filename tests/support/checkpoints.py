"""An ensemble as a checkpoint written before some of its state existed would restore it.

Every piece of state added to ``Ensemble`` comes with a ``__setstate__`` branch for
checkpoints that lack it; the tests of those branches all build such a checkpoint the same
way: pickle a running ensemble, drop the new attributes, restore.
"""

from __future__ import annotations

import pickle

from anomalert.detect.ensemble import Ensemble


def restored_without(ens: Ensemble, *names: str) -> Ensemble:
    """``ens`` pickled and restored as if its attributes ``names`` had not existed."""
    state = pickle.loads(pickle.dumps(ens)).__dict__
    for name in names:
        del state[name]
    old = Ensemble.__new__(Ensemble)
    old.__setstate__(state)
    return old
