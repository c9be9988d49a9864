"""Outcome exports (merged pull requests, closed tickets, defects, incidents, reverts): the other side of
the ledger. One module per format, all normalising into :data:`tokenaudit.outcomes.schema.OUTCOME_SCHEMA`;
:data:`tokenaudit.outcomes.read.OUTCOME_READERS` is the registry (readers on the usage readers' protocol) and
:func:`tokenaudit.outcomes.read.read_outcomes` detects the format of each file and reads it.
"""
