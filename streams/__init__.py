"""The Faust app, its settings, topics, event records and schemas, and the command line."""
