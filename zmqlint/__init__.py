"""zmqlint: find and fix the bugs that crash, hang or expose ZeroMQ / asyncio / thread services."""

__version__ = "0.1.0"
