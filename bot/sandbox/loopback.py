"""The sandbox's stand-ins are aiohttp apps served on loopback: started, stopped, and usable
as `async with`, the same way for the Slack stand-in and the SFVoPI emulator."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from aiohttp import web


class LoopbackServer:
    """An app served on a loopback port; a subclass builds its routes in `start`."""

    _runner: web.AppRunner | None = None
    _host = "127.0.0.1"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        raise NotImplementedError

    async def _serve(self, app: web.Application, host: str, port: int) -> int:
        """Serve `app` on `host`:`port` (0: any free port) and return the port it took."""
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        self._host = host
        return int(runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
