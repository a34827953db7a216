"""Reports that tell a team whether to trust the alerts: shadow-mode readiness, weekly audit.

``incidents_file``, ``shadow`` and ``audit`` are pure functions over frozen rows (no I/O,
no clock), so a report is the same in the API, the CLI and the tests; ``gather`` is the one
edge that reads the store and the config and calls them.
"""
