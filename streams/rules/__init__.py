"""Pure domain rules (recurrence maths, the filter language): no Faust, no database access, no I/O."""
