"""A plugin whose async event hook never returns."""

import asyncio

from medlytt import hookimpl


@hookimpl
async def medlytt_event(event):
    await asyncio.Event().wait()
