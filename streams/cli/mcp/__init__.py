"""`taskstream mcp`: the MCP server (`server.py`) and the natural-date parser its tools use (`natural_dates.py`).

Imports nothing, so the parser loads without the MCP SDK.
"""
