"""Array types of the simulated bench, so that signatures say what an array holds."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
"""Real samples, coefficients or matrices (V, A, S, ... as each signature says)."""

RealArray = NDArray[np.floating[Any]]
"""A real array of any float precision: the type numpy's stubs give to mixed int/float arithmetic (an
``arange`` times a float), accepted by functions whose results are :data:`FloatArray`."""

ComplexArray = NDArray[np.complex128]
"""Complex phasors or Fourier coefficients."""

IndexArray = NDArray[np.intp]
"""Integer indices into another array."""

AnyArray = NDArray[Any]
"""An array whose element type depends on the caller (real or complex)."""
