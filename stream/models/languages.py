"""Items in a language the reader has never read: held back unless the evidence is strong."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from stream.models.catalog import ItemCatalog

__all__ = ["unread_language_items"]


def unread_language_items(catalog: ItemCatalog, history: NDArray[np.int32],
                          collab: NDArray[np.float64], evidence: float
                          ) -> NDArray[np.intp] | None:
    """The items, among the first ``collab.size`` of the catalogue, in a language none of
    the reader's ``history`` (item indexes) is in, whose co-visitation score ``collab``
    (1 for the reader's most co-visited item) is below ``evidence``: the first stage
    leaves them out.

    A reader who read only English may well read nothing else, and content similarity
    across languages is noise; but items that readers of the same articles went on to read
    are evidence enough. None (nothing held back) when ``evidence`` is 0 (the rule is off),
    or when the history has no item of a known language (a new reader: nothing is known
    of their languages). Items of unknown language are never held back.

    >>> cat = ItemCatalog(dim=8)
    >>> for i, lang in enumerate(["en", "zh", "en", None, "zh"]):
    ...     _ = cat.upsert(f"i{i}", np.zeros(8, dtype=np.float32), "", (), lang, 0.0)
    >>> history = np.array([0], dtype=np.int32)
    >>> unread_language_items(cat, history, np.array([0, 0.2, 0, 0, 0.9]), 0.5).tolist()
    [1]
    >>> unread_language_items(cat, history, np.zeros(5), 0.0) is None
    True
    """
    if evidence <= 0 or history.size == 0:
        return None
    n = collab.size
    codes = catalog.lang_codes[:n]
    read = codes[history[history < n]]
    read = read[read >= 0]
    if read.size == 0:
        return None
    # code -1 (unknown language) reads the last entry: always True, never held back
    known = np.zeros(len(catalog.lang_names) + 1, dtype=bool)
    known[-1] = True
    known[read] = True
    held: NDArray[np.intp] = np.flatnonzero(~known[codes] & (collab < evidence))
    return held
