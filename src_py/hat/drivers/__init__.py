"""Hat drivers: asyncio TCP layer and the protocol drivers built on it."""
