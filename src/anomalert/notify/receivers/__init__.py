"""Integrations, one module each: a config model and a class with ``send``.

``base`` holds the :class:`~anomalert.notify.receivers.base.Receiver` protocol. HTTP
integrations (webhook, alertmanager, slack, pagerduty, opsgenie, teams, discord) take an
injected ``httpx.Client`` and send through ``notify.http``; ``email`` speaks SMTP; ``log``
and ``jsonl`` write locally (the terminal in ``make run``, the replay output file).
"""
