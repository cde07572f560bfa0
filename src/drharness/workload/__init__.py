"""Workload: what clients do during a drill (prober, canary writer, verifier, load)."""
