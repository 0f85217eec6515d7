"""Items in a language the reader has never read: held back unless the evidence is strong."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from stream.models.catalog import ItemCatalog

if TYPE_CHECKING:
    from stream.models.scoring import UserView

__all__ = ["unread_language_items", "unread_language_pairs"]


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


def unread_language_pairs(catalog: ItemCatalog, views: Sequence[UserView],
                          readers: NDArray[np.intp], items: NDArray[np.int64],
                          collab: NDArray[np.float64], evidence: float) -> NDArray[np.bool_]:
    """:func:`unread_language_items` for many (reader, item) pairs at once: whether each
    ``items[i]`` is held back from the reader ``views[readers[i]]`` (their history is
    ``seen``), given its co-visitation score ``collab[i]``.

    >>> from stream.models.scoring import UserView
    >>> cat = ItemCatalog(dim=8)
    >>> for i, lang in enumerate(["en", "zh", "en", None, "zh"]):
    ...     _ = cat.upsert(f"i{i}", np.zeros(8, dtype=np.float32), "", (), lang, 0.0)
    >>> read_en = UserView(0, np.zeros(0, np.int32), np.zeros(0), None,
    ...                    np.array([0], dtype=np.int32))
    >>> new = UserView(None, np.zeros(0, np.int32), np.zeros(0), None, np.zeros(0, np.int32))
    >>> unread_language_pairs(cat, [read_en, new], np.array([0, 0, 0, 1]),
    ...                       np.array([1, 4, 3, 1]), np.array([0.2, 0.9, 0, 0]), 0.5).tolist()
    [True, False, False, False]
    """
    if evidence <= 0 or items.size == 0:
        return np.zeros(items.size, dtype=bool)
    n_codes = len(catalog.lang_names) + 1
    # per reader, the languages read (code -1, unknown, reads the last column: always known);
    # a reader with none of a known language holds nothing back
    known = np.zeros((len(views), n_codes), dtype=bool)
    known[:, -1] = True
    for reader, view in enumerate(views):
        codes = catalog.lang_codes[view.seen]
        codes = codes[codes >= 0]
        if codes.size:
            known[reader, codes] = True
        else:
            known[reader] = True
    held: NDArray[np.bool_] = ~known[readers, catalog.lang_codes[items]] & (collab < evidence)
    return held
