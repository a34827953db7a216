"""How loud an anomaly is: a severity from its score and the service's criticality.

Precision first (PRODUCT.md principle 1): a page at night must be worth it, so P1 needs
both a service that matters and a score far in the tail. The score is calibrated (0.90 is
about one point in 10,000 of the series' normal behaviour), so the same table holds for
every series.

==============  =======================  =========================  ===============
criticality     P1 (page now)            P2 (business hours)        P3 (dashboard)
==============  =======================  =========================  ===============
high            score >= 0.97            score >= threshold (0.90)  everything else
medium          score >= 0.995           score >= 0.95              everything else
low             never                    never                      always
==============  =======================  =========================  ===============

>>> severity(0.98, "high"), severity(0.98, "medium"), severity(0.999, "low")
('P1', 'P2', 'P3')
"""

from __future__ import annotations

from typing import Literal

from anomalert.model import SEVERITIES, Severity

Criticality = Literal["high", "medium", "low"]

#: Lowest score for P1 and P2 per criticality; None means never (the threshold stands in
#: for P2 of high-criticality services).
P1_FROM: dict[str, float | None] = {"high": 0.97, "medium": 0.995, "low": None}
P2_FROM: dict[str, float | None] = {"high": None, "medium": 0.95, "low": None}


def severity(score: float, criticality: Criticality, threshold: float = 0.90) -> Severity:
    """The severity of an anomaly that reached ``score`` on a service of ``criticality``."""
    p1 = P1_FROM[criticality]
    if p1 is not None and score >= p1:
        return "P1"
    if criticality == "high" and score >= threshold:
        return "P2"
    p2 = P2_FROM[criticality]
    if p2 is not None and score >= p2:
        return "P2"
    return "P3"


def louder(a: Severity, b: Severity) -> bool:
    """Whether severity ``a`` is more urgent than ``b`` (P1 is louder than P2)."""
    return SEVERITIES.index(a) < SEVERITIES.index(b)
