"""The dashboard: server-rendered page shells whose data the browser loads from the JSON API.

The API stays the single source of the JSON shapes; the dashboard is its first client.
"""
