"""The local two-region lab: moto control plane, region gateways and real data planes.

The lab knows nothing of the harness (no imports from drharness modules other than
``drharness.lab``, ``drharness.errors`` and ``drharness.refapp``, the system under test).
"""
