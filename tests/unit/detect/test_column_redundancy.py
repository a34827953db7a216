"""Columns that are one signal seen twice do not count as two columns agreeing."""

from __future__ import annotations

import numpy as np
import pytest

from anomalert.detect.combine import ONE_COLUMN_SHARE, ColumnRedundancy, columns_p


def test_a_duplicate_column_does_not_make_agreement() -> None:
    p = np.array([[1e-4, 2e-4, 0.5, 0.5]])
    independent = columns_p(p)
    grouped = columns_p(p, np.array([[0, 0, 2, 3]]))
    # Two different signals at 1e-4 and 2e-4 agree: a strong row p-value...
    assert independent[0] < 1e-6
    # ...but one signal seen twice is one column far out, spending the one-column share.
    assert grouped[0] == min(1e-4 * 4 / ONE_COLUMN_SHARE, 6 * 0.5**2 / (1 - ONE_COLUMN_SHARE))
    # Agreement across groups still counts.
    other = columns_p(np.array([[1e-4, 0.5, 2e-4, 0.5]]), np.array([[0, 0, 2, 3]]))
    assert other[0] < 1e-6


def test_agreement_pays_for_the_pairs_of_every_column() -> None:
    """Two groups of two duplicates agreeing: the second voice is the other group's, and
    the correction counts the 6 pairs of the 4 columns, not the 1 pair of the 2 groups
    (columns sharing a load agree more often than independent ones, duplicates or not)."""
    p = np.full((1, 4), 1e-3)
    grouped = columns_p(p, np.array([[0, 0, 2, 2]]))
    assert grouped[0] == pytest.approx(6 * 1e-6 / (1 - ONE_COLUMN_SHARE))
    # Calm columns were asked too and are paid for; columns without a value are not.
    calm = np.array([[1e-3, 1e-3, 1.0, 1.0]])
    assert columns_p(calm, np.array([[0, 1, 2, 3]]))[0] == pytest.approx(grouped[0])
    two = columns_p(calm, np.array([[0, 1, 2, 3]]), asked=np.array([2]))
    assert two[0] == pytest.approx(1e-6 / (1 - ONE_COLUMN_SHARE))


def test_groups_are_learned_from_the_steps_causally() -> None:
    """c1 is c0 doubled (plus a little noise), c3 trends with c2 but steps on its own."""
    rng = np.random.default_rng(0)
    red = ColumnRedundancy(n=2, width=4, every=50, min_rows=100)
    assert (red.groups == np.arange(4)).all()  # nothing is grouped before any row
    level = np.zeros(2)
    for k in range(600):
        a = rng.normal(size=2)
        level += 1.0
        row = np.stack(
            [
                a,
                2 * a + 0.01 * rng.normal(size=2),
                rng.normal(size=2) + level,
                rng.normal(size=2) + level,
            ],
            axis=1,
        )
        if k == 50:
            assert (red.groups == np.arange(4)).all()  # too few rows to judge yet
        red.learn(row)
    np.testing.assert_array_equal(red.groups, [[0, 0, 2, 3], [0, 0, 2, 3]])


def test_missing_values_neither_break_nor_invent_groups() -> None:
    rng = np.random.default_rng(1)
    red = ColumnRedundancy(n=1, width=3, every=50, min_rows=100)
    for k in range(400):
        a = rng.normal()
        row = np.array([[a, -a, rng.normal()]])
        if k % 7 == 0:
            row[0, 2] = np.nan
        red.learn(row)
    np.testing.assert_array_equal(red.groups, [[0, 0, 2]])  # anti-correlated is the same


@pytest.mark.parametrize("garbage", [1e160, 1e200, 1.7e308])
def test_a_garbage_value_leaves_the_groups_as_learned(garbage: float) -> None:
    """A value past 1e154 made the steps' products inf, then NaN: the file's moments were
    NaN for good (every column on its own from the next regrouping) and numpy warned on
    the user's terminal (``anomalert detect``). The rows of its step in and out are not
    learned (warnings are errors in the tests)."""
    rng = np.random.default_rng(0)
    red = ColumnRedundancy(n=1, width=3, every=50, min_rows=100)
    for k in range(400):
        a = rng.normal()
        row = np.array([[a, 2 * a + 0.01 * rng.normal(), rng.normal()]])
        if k == 300:
            row[0, 2] = garbage
        red.learn(row)
    assert np.isfinite(red.moment).all()
    np.testing.assert_array_equal(red.groups, [[0, 0, 2]])
