"""The CPU kernels the tests compute with: NumPy's and OpenBLAS's AVX2 ones on any x86-64
machine that has AVX2.

Both libraries pick their kernels when they load. Their AVX-512 ones are not only faster:
some of them round an ulp away from the AVX2 ones (measured on an AVX-512 machine: ``log1p``
of a few items differed in the last bit from the same items' values in a catalogue-wide
array, and lists whose scores tie to the last digits came out in another order than the
golden files an AVX2 machine recorded). The tests that check our arithmetic bit for bit
(golden outputs, a few rows against the whole catalogue) hold for one set of kernels, so
every test process, and every process a test starts, uses the AVX2 ones.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping

__all__ = ["pinned", "pinned_env"]

#: set by :func:`pinned_env`: the kernels of this environment are pinned already
_MARK = "PINNED_TEST_KERNELS"

#: NumPy's dispatch targets wider than AVX2 (x86-64, NumPy 2.4 names and older ones)
_WIDER = ("X86_V4", "AVX512F", "AVX512CD", "AVX512_KNL", "AVX512_KNM", "AVX512_SKX",
          "AVX512_CLX", "AVX512_CNL", "AVX512_ICL", "AVX512_SPR")

_PROBE = """
import numpy as np
try:
    u = np._core._multiarray_umath
except AttributeError:
    u = np.core._multiarray_umath
print(" ".join(getattr(u, "__cpu_dispatch__", ())))
print(int(bool(getattr(u, "__cpu_features__", {}).get("AVX2"))))
"""


def pinned(env: Mapping[str, str] | None = None) -> bool:
    """Whether ``env`` (this process's environment by default) has :func:`pinned_env`'s
    kernels."""
    return (os.environ if env is None else env).get(_MARK) == "avx2"


def pinned_env() -> dict[str, str]:
    """This environment with the AVX2 kernels: NumPy's wider dispatch targets off (those of
    the installed build: naming one it does not dispatch only warns, and turning off one
    the machine lacks is allowed) and OpenBLAS's Haswell kernels where the CPU has AVX2.
    NumPy is asked in a process of its own: this one must not load it before it is pinned."""
    env = dict(os.environ)
    if pinned(env):
        return env
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                          check=True, env=env)
    dispatch, avx2 = [*done.stdout.splitlines(), "", "0"][:2]
    wider = [f for f in dispatch.split() if f in _WIDER]
    if wider:
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(wider)
    if avx2 == "1":
        env["OPENBLAS_CORETYPE"] = "Haswell"
    env[_MARK] = "avx2"
    return env
