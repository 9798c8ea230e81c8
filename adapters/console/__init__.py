"""The console adapter: a terminal (or a script) stands in for a chat platform, on the same code path."""
