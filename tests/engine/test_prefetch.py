"""The prefetch hint: it compiles into a kernel, changes no value, and never faults."""

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from mural.engine.prefetch import prefetch_pixel


@njit
def _add_after_prefetch(image, y, x, wild):
    prefetch_pixel(image, y, x, 0)
    prefetch_pixel(image, y + wild, x - wild, 2)  # far outside the array: only a hint
    image[y, x, 1] += np.float32(1.0)
    return image[y, x, 1]


def test_a_prefetch_changes_nothing_and_tolerates_any_index():
    image = np.arange(4 * 5 * 3, dtype=np.float32).reshape(4, 5, 3)
    expected = image.copy()
    expected[2, 3, 1] += 1.0
    assert _add_after_prefetch(image, 2, 3, 1 << 40) == expected[2, 3, 1]
    assert np.array_equal(image, expected)


def test_a_prefetch_is_refused_for_what_is_not_an_image():
    @njit
    def flat(a):
        prefetch_pixel(a, 0, 0, 0)

    with pytest.raises(TypingError):
        flat(np.zeros(3, np.float32))
