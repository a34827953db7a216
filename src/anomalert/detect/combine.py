"""One probability for a row of several series: a file's columns, a service's metrics.

Two kinds of evidence make a row unusual: one column far out, or several columns somewhat
out at once (a server under strain moves CPU, load and network together). The first is the
smallest p-value with a Bonferroni correction; the second is the second smallest, which under
independence is at most ``C(m, 2) * p_(2) ** 2``. The row takes the better of the two by a
weighted Bonferroni correction: it spends ``ONE_COLUMN_SHARE`` (0.1 %) of its error budget
on one column alone and the rest on two agreeing, so one column must be very far out to page
by itself (one metric of a server jumping on its own is mostly routine), while agreement
keeps nearly its full weight. The multivariate detectors' p-value, evidence of another kind
(an unusual combination), joins by Stouffer's method (``stouffer``): the two kinds' normal
quantiles are added, so a row pages most easily when both kinds point the same way. Until
2026-12-04 (tenth session) they joined by Fisher's method, which follows the smaller
p-value: a column 1e-5 out with the multivariate detectors unmoved (0.5) made 7e-5, an
alert, and most of SMD's false events were such rows. With Stouffer's, one kind alone must
reach about 1e-8. On SMD (every other step as before): event precision 0.493 -> 0.537,
recall 0.585 -> 0.590, AUC-PR 0.408 -> 0.411, VUS-PR 0.362 -> 0.365.

Both ways of combining assume the columns independent, and a machine's columns are not: CPU,
load and context switches move as one, so two "agreeing" columns are often one signal seen
twice. ``ColumnRedundancy`` learns, from each file's own rows, which columns step together
(absolute correlation of their steps at least 0.9); such a group speaks once when agreement
is counted: two of its columns are not two voices (on the development machines: event
precision 0.445 -> 0.467 at equal recall). The correction still pays for the pairs of all
the columns asked, not only of the groups': the groups catch only the plain duplicates,
and columns that share a load without stepping together (correlation below the cut) still
agree more often than independent ones would. Until 2026-12-04 it paid for the groups'
pairs only, which made agreement 2-4 times cheaper on a machine with many duplicates;
paying for every column's pairs cut SMD's false two-column events from 64 to 39 (precision
0.490 -> 0.530, recall 0.575 -> 0.520, AUC-PR and VUS-PR unchanged or up).

Every column with a value was asked, calm or not, so every one counts (``asked``). Until
2026-12-04 (tenth session) a column whose p-value was 1 (its statistic below the tail's
start) did not, which let a row whose other columns happened to be calm pay for fewer
tests than it ran; counting them: SMD AUC-PR 0.4063 -> 0.4084, VUS-PR 0.3592 -> 0.3618,
event precision 0.502 -> 0.493 (``RowCalibration`` gives back most of the stricter count,
and where the episodes start moves), recall 0.580 -> 0.585.

``RowCalibration`` then checks the combined p-value against what each file's rows really
do: if rows below ``level`` start (a run counts once) more often than ``level`` says, the
file's p-values are scaled up by the ratio. Only too often is corrected, never too rarely.

>>> float(columns_p(np.array([[1e-6, 0.5, 0.5]]))[0]) == 3e-6 / ONE_COLUMN_SHARE
True
>>> float(columns_p(np.array([[1e-3, 1e-3, 0.5]]))[0]) < 6e-3
True
>>> float(stouffer(np.array([0.01]), np.array([0.01]))[0]) < 6e-4  # two kinds agreeing
True
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

from anomalert.detect.base import ArrayState, BoolArray, FloatArray
from anomalert.detect.jit import kernel

#: Share of a row's error budget spent on one column alone (the rest on two agreeing).
ONE_COLUMN_SHARE = 0.001


def columns_p(
    p: FloatArray, groups: np.ndarray | None = None, asked: np.ndarray | None = None
) -> FloatArray:
    """Row p-values from a (rows, columns) array of column p-values (1 = calm or missing).

    ``asked`` (optional, one count per row) is how many columns had a value: the tests the
    correction pays for (default: every column). ``groups`` (optional, same shape, small
    non-negative ints) names the columns that are one signal seen twice
    (``ColumnRedundancy``): the second voice of an agreement must come from another group
    than the first, each group speaking with its smallest p-value. The number of pairs
    paid for stays that of all the columns asked, not of the groups: see the module's
    docstring.
    """
    m = np.maximum(p.shape[1] if asked is None else asked, 1)
    if p.shape[1] == 1:
        return np.minimum(p[:, 0], 1.0)
    if groups is not None:
        q = np.ones_like(p)
        rows = np.broadcast_to(np.arange(p.shape[0])[:, None], p.shape)
        np.minimum.at(q, (rows, groups), p)
        ordered = np.sort(q, axis=1)
        voices = (q < 1.0).sum(axis=1)
    else:
        ordered = np.sort(p, axis=1)
        voices = (p < 1.0).sum(axis=1)
    one = ordered[:, 0] * m
    two = _choose(m, 2) * ordered[:, 1] ** 2
    both = np.minimum(one / ONE_COLUMN_SHARE, two / (1.0 - ONE_COLUMN_SHARE))
    return np.minimum(np.where(voices >= 2, both, one), 1.0)


def agreeing_column(p: FloatArray, first: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """Per row, the column that agreement pairs with column ``first``: the most surprising
    one outside ``first``'s group of redundant columns (-1 when every other is calm).

    It is the second voice ``columns_p`` counts when two columns agree, named in reasons.

    >>> p = np.array([[1e-3, 0.5, 2e-3]])
    >>> agreeing_column(p, np.array([0]), None).tolist()
    [2]
    >>> agreeing_column(p, np.array([0]), np.array([[0, 1, 0]])).tolist()  # 2 repeats 0
    [1]
    """
    rows = np.arange(p.shape[0])
    if groups is None:
        same = np.zeros(p.shape, dtype=bool)
        same[rows, first] = True
    else:
        same = groups == groups[rows, first][:, None]
    others = np.where(same, np.inf, p)
    second = np.argmin(others, axis=1)
    return np.where(others[rows, second] < 1.0, second, -1)


class ColumnRedundancy(ArrayState):
    """Per row source (a file): which of its columns move as one, learned as rows arrive.

    Keeps the decayed means and cross-moments of the columns' steps (first differences;
    levels would call any two trending columns the same) and, every ``every`` rows, groups
    columns whose steps correlate at least ``cut`` in absolute value: each column joins the
    first earlier group leader it duplicates. Causal: the groups used for a row were formed
    from earlier rows.
    """

    def __init__(
        self,
        n: int = 1,
        width: int = 2,
        cut: float = 0.9,
        half_life: float = 20_000.0,
        every: int = 100,
        min_rows: int = 200,
    ) -> None:
        self.n = n
        self.width = width
        self.cut = cut
        self.half_life = half_life
        self.every = every
        self.min_rows = min_rows
        self.count = np.zeros(n)
        self.ticks = 0  # rows taken with data, for the regrouping schedule
        self.prev = np.full((n, width), np.nan)
        self.mean = np.zeros((n, width))
        self.moment = np.zeros((n, width, width))
        self.groups = np.broadcast_to(np.arange(width), (n, width)).copy()

    def learn(self, x: FloatArray) -> None:
        """Take one row per source, shape (n, width); NaN steps count as 0 (no move). A row
        whose steps' products overflow (a garbage value past 1e154 and the step back from
        it) is not learned: its inf would have left the moments NaN for good, every column
        of the file on its own and a RuntimeWarning on the user's terminal."""
        with np.errstate(over="ignore", invalid="ignore"):  # inf - inf: NaN, not learned
            step = x - self.prev
            outer = step[:, :, None] * step[:, None, :]
        step = np.where(np.isnan(step), 0.0, step)
        outer = np.where(np.isnan(outer), 0.0, outer)
        have = np.isfinite(self.prev).any(axis=1) & np.isfinite(x).any(axis=1)
        have &= np.isfinite(outer).all(axis=(1, 2))
        self.prev = np.where(np.isfinite(x), x, self.prev)
        if not have.any():
            return
        self.count += have
        rate = np.maximum(1.0 / np.maximum(self.count, 1.0), 1.0 - 0.5 ** (1.0 / self.half_life))
        rate = np.where(have, rate, 0.0)
        step = np.where(have[:, None], step, 0.0)
        outer = np.where(have[:, None, None], outer, 0.0)
        self.mean += rate[:, None] * (step - self.mean)
        self.moment += rate[:, None, None] * (outer - self.moment)
        self.ticks += 1
        if self.ticks % self.every == 0:
            self._regroup()

    def _regroup(self) -> None:
        cov = self.moment - self.mean[:, :, None] * self.mean[:, None, :]
        sd = np.sqrt(np.maximum(np.diagonal(cov, axis1=1, axis2=2), 0.0))
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = cov / (sd[:, :, None] * sd[:, None, :])
        same = np.abs(np.nan_to_num(corr)) >= self.cut
        _leader_groups(same, self.count, float(self.min_rows), self.groups)


@kernel
def _leader_groups(same: BoolArray, count: FloatArray, min_rows: float, groups: np.ndarray) -> None:
    """Per source, each column joins the first earlier group leader it duplicates.

    A compiled loop: in Python it cost a loop over sources times columns every ``every``
    rows, which is nothing for a few machines and seconds for thousands of wide files.
    A source with fewer than ``min_rows`` rows keeps every column on its own.
    """
    n, width = same.shape[0], same.shape[1]
    leaders = np.empty(width, dtype=np.int64)
    for i in range(n):
        for c in range(width):
            groups[i, c] = c
        if count[i] < min_rows:
            continue
        found = 0
        for c in range(width):
            home = -1
            for j in range(found):
                if same[i, c, leaders[j]]:
                    home = leaders[j]
                    break
            if home < 0:
                leaders[found] = c
                found += 1
            else:
                groups[i, c] = home


def stouffer(a: FloatArray, b: FloatArray) -> FloatArray:
    """Stouffer's combination of two independent p-values: the upper tail of
    s = (z_a + z_b) / √2, z being the normal quantile of 1 - p.

    A p-value above 0.5 counts as z = 0, no evidence either way, so a calm kind of evidence
    does not veto the other (a capped p-value of 1 would be z = -inf). With that floor s is
    no longer normal; P(s' >= s) <= Q(s) + Q(s √2) bounds its tail (the second term: one
    z at 0, the other alone past s √2), which is 1 for a calm row and Q(s) within 0.1 % at
    the alert level. The two kinds read the same row and are not independent either:
    ``RowCalibration`` answers for what that costs, as for the columns. NaN stays NaN.
    """
    za = np.maximum(-ndtri(np.clip(a, 1e-300, 1.0)), 0.0)
    zb = np.maximum(-ndtri(np.clip(b, 1e-300, 1.0)), 0.0)
    both = za + zb
    out: FloatArray = np.minimum(ndtr(-both / np.sqrt(2.0)) + ndtr(-both), 1.0)
    return out


class RowCalibration(ArrayState):
    """Per row source (a file): scale its row p-values up when they fall too low too often.

    Keeps, decayed with a half-life of ``half_life`` rows and started from a prior of
    ``prior_rows`` rows at the nominal rate, the number of rows scored and the number of runs
    of rows whose p-value was below ``level``. Where the observed rate of such runs exceeds
    ``level``, p-values are multiplied by the ratio (capped at 1). Causal: a row is corrected
    with what the rows before it did, then counted.

    >>> cal = RowCalibration(n=1, prior_rows=100.0)
    >>> for _ in range(100):  # a run below the level every other row: 250 times too often
    ...     _ = cal.correct(np.array([1e-4]), np.array([True]))
    ...     _ = cal.correct(np.array([0.5]), np.array([True]))
    >>> float(cal.correct(np.array([1e-4]), np.array([True]))[0]) > 1e-2
    True
    """

    def __init__(
        self,
        n: int = 1,
        level: float = 2e-3,
        prior_rows: float = 1000.0,
        half_life: float = 100_000.0,
    ) -> None:
        self.n = n
        self.level = level
        self.prior_rows = prior_rows
        self.half_life = half_life
        self.rows = np.full(n, prior_rows)
        self.runs = np.full(n, prior_rows * level)
        self.below = np.zeros(n, dtype=bool)

    def correct(self, p: FloatArray, scored: BoolArray) -> FloatArray:
        """The corrected p-values of one row per source; learns the rows that were scored."""
        ratio = self.runs / (self.rows * self.level)
        out = np.minimum(p * np.maximum(ratio, 1.0), 1.0)
        decay = 0.5 ** (1.0 / self.half_life)
        below = p < self.level
        start = below & ~self.below
        self.rows = np.where(scored, self.rows * decay + 1.0, self.rows)
        self.runs = np.where(scored, self.runs * decay + start, self.runs)
        self.below = np.where(scored, below, self.below)
        return out


def _choose(m: np.ndarray, k: int) -> FloatArray:
    out = np.ones(m.shape, dtype=float)
    for i in range(k):
        out *= np.maximum(m - i, 0) / (i + 1)
    return out
