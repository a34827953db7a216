"""Anomalies and rule results -> alerts -> notifications.

``policy`` (modes, ``for``, hysteresis, flapping, severity) and ``rules`` (static, dynamic,
week-over-week, SLO burn rates) decide what is an alert; the pipeline stages (dedup, group,
inhibit, silence, route, escalation) decide who hears about it and when.
"""
