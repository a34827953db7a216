"""Helpers the tests share: free ports, real server processes started and stopped by tests."""
