"""Stream agents and the outbox relay: thin loops that decode, call a rule, write and send."""
