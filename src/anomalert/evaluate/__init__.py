"""Evaluate: score detector outputs on labelled benchmarks (NAB, SMD) with published rules."""
