"""Nemesis: faults with start/stop, injected through AWS FIS and healed on teardown.

The functions in ``fis`` use Chaos Toolkit's activity signature (typed kwargs, trailing
``configuration=None, secrets=None``) so experiments can call them directly.
"""
