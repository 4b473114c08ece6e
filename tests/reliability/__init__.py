"""Reliability and security suite (issue 6)."""
