"""An independent judge of Allot's answers, written from README.md and docs/contract.md.

Nothing here imports ``optimizer`` except the public ``optimizer.solve.solve`` and the
scenario loading the tests check; entitlements, grades, rules, objectives and the
documented tie-break order are computed afresh, exactly, from the scenario's plain data.
"""
