"""Detect: samples -> calibrated scores and anomalies, causal by construction."""
