"""The robustness matrix: one module per family of faults; the table is ``docs/robustness.md``.

A package (this file) so that its modules may share base names with the unit-test modules
(``tests/test_checkpoints.py`` and ``tests/robustness/test_checkpoints.py``); ``tests/`` is then
the import root, so ``helpers`` imports as it does in the unit tests.
"""
