"""`omniman worker` as a real process group, for tests that kill, pause and resume workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from omniman_gql.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """`omniman worker` (one process, one thread) as a real process group, so signals reach dramatiq's forked worker
    too. `settings` give the database, Redis, handlers, timeouts and leases; `extra` more OMNIMAN_* variables."""

    def __init__(self, settings: Settings, log: Path, **extra: str) -> None:
        env = {**os.environ, "OMNIMAN_DATABASE_URL": settings.database_url,
               "OMNIMAN_REDIS_URL": settings.redis_url or "",
               "OMNIMAN_BROKER_NAMESPACE": settings.broker_namespace,
               "OMNIMAN_EXTRA_HANDLER_MODULES": ",".join(settings.extra_handler_modules),
               "OMNIMAN_DIRECTIVE_RUNNING_TIMEOUT_S": str(settings.directive_running_timeout_s),
               "OMNIMAN_DIRECTIVE_LEASE_S": str(settings.directive_lease_s),
               "OMNIMAN_DIRECTIVE_HEARTBEAT_S": str(settings.directive_heartbeat_s),
               "OMNIMAN_DIRECTIVE_MAX_ATTEMPTS": str(settings.directive_max_attempts),
               "OMNIMAN_WORKER_TIMEOUT_MS": str(settings.worker_timeout_ms),
               "PYTHONPATH": str(ROOT), **extra}
        omniman = Path(sys.executable).with_name("omniman")
        self.log = log
        self._log = log.open("ab")
        self.process = subprocess.Popen([str(omniman), "worker", "--processes", "1", "--threads", "1"], cwd=ROOT,
                                        env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self) -> None:
        """SIGKILL to the whole group: the worker process gets no chance to clean up."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)

    def pause(self) -> None:
        """SIGSTOP to the whole group: alive but silent (no heartbeat), as a worker stuck in a long GC or swap."""
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.killpg(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        """SIGTERM to dramatiq's main process alone (it forwards it once; a second one would kill uncleanly)."""
        try:
            if self.process.poll() is None:
                self.resume()  # a paused group would never act on the SIGTERM
                self.process.terminate()
                self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()
        finally:
            self._log.close()
