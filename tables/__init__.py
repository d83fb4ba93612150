"""Faust tables, one module each, imported by the agents that use them: the windowed reminder schedule."""
