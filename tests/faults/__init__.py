"""The fault harness (``make faults``; a shortened run is part of ``make test``).

Each scenario drives a deterministic workload through the real system (services as
OS processes, the real broker), injects one kind of fault, and hands what came out
to the verifier, which joins every input event to its effects and compares them,
effect by effect, with a run of the same workload without faults:

- ``workloads``: the inputs, in phases, with deterministic event ids;
- ``driver``: publishes them (as the gateway's relay or the matcher would) or sends
  them over HTTP, waits for the system to catch up between phases;
- ``observe``: reads every effect back (topics and the gateway's read models);
- ``verifier``: pure; counts lost, duplicated and unexpected effects;
- ``scenarios``: the faults; ``__main__`` runs them and writes docs/reliability.md.
"""
