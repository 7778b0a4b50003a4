"""The paper reproduction: one module per experiment (``exp01_…`` to ``exp09_…``), each with
``run(out, size="tiny" | "quick" | "full", force=False)`` that writes a tidy CSV, a JSON sidecar
and PDF + PNG figures to ``out``; :mod:`.runner` runs a selection (``moe-approx reproduce``)."""
