"""`taskstream mcp`: the MCP server (`server.py`); its natural-date and quick-add parsers live in streams/rules/.

Imports nothing, so the server module is the only thing that needs the MCP SDK.
"""
