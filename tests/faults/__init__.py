"""Hostile inputs and failing providers: what a probe of issue #11 found, kept as tests."""
