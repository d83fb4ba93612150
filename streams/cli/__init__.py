"""The `taskstream` command line: our subcommands beside Faust's, and what they run.

`commands.py` declares every subcommand (dev, migrate, token, topics, seed, deploy verify, mcp,
api-docs) on the app; they are registered when the app's autodiscovery imports it, so `taskstream`
(`streams.app:main`) and `faust -A streams.app` offer the same commands. The rest is what the
commands run: `dev.py` (the local system) with `embedded.py` (embedded PostgreSQL and broker),
`seed.py` (benchmark data), `deploy.py` (the rollout check) and `mcp/` (the MCP server).

This is the top of the import graph: it may import the app, web, agents and db; nothing else imports
it. This file imports nothing, so importing a command's module does not load the Faust app.
"""
