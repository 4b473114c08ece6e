"""Benchmarks of the Copernica provider against the local sandbox (`make bench`)."""
