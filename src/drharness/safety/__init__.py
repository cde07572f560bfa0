"""Safety of drills: drill lock, preflight guards, audit log, redaction, recovery of interrupted runs.

A tool that injects faults and fails over production must be the safest thing in the account;
see docs/SECURITY.md for what is promised and which test proves each promise.
"""
