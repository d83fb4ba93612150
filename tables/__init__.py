"""Faust tables: the windowed reminder schedule and per-user windows."""
