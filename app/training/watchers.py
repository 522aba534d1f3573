"""Progress sockets open in this process, counted per job and per client, so that 200
sockets on one job (or one client opening sockets on many) cannot crowd the event loop."""

from __future__ import annotations

from collections import Counter


class Watchers:
    """Progress sockets open in this process, per job and per client."""

    def __init__(self):
        self.per_job: Counter[str] = Counter()
        self.per_client: Counter[str] = Counter()

    def enter(self, job: str, client: str, settings) -> str | None:
        """None when admitted (counted), else why not."""
        if self.per_job[job] >= settings.max_progress_sockets_per_job:
            return (f"{self.per_job[job]} sockets already follow this job, the most it takes "
                    f"({settings.max_progress_sockets_per_job}); poll GET /api/train/{{job}}")
        if self.per_client[client] >= settings.max_progress_sockets_per_client:
            return (f"you already follow jobs on {self.per_client[client]} sockets, the most "
                    f"one client may ({settings.max_progress_sockets_per_client})")
        self.per_job[job] += 1
        self.per_client[client] += 1
        return None

    def leave(self, job: str, client: str) -> None:
        for counter, key in ((self.per_job, job), (self.per_client, client)):
            counter[key] -= 1
            if counter[key] <= 0:
                del counter[key]

