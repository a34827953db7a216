"""Delivery: notifications -> receivers, durably.

``outbox`` writes each notification down per integration, then sends, retries and records
it; ``receivers/`` holds one module per integration behind the one-method ``Receiver``
protocol; ``http`` decides once which HTTP outcomes are worth retrying; ``render`` holds
what every integration says (titles, the lead alert, dedup keys, the Alertmanager webhook
JSON, the outbox payload and the replay JSONL line); ``config`` builds receivers from the
YAML. Composition root::

    receivers = build_receivers(config.receivers, httpx.Client())
    outbox = Outbox(store, receivers, RetryPolicy())
    outbox.enqueue(notification, now)   # from the alert pipeline
    outbox.deliver_due(now)             # from the delivery loop
"""
