"""The Faust app (a leaf), its settings, topics, the wire contract and its schemas; `rules/` and `cli/` below it."""
