"""A bounded stream of requests through the Ingress while something happens to the release,
keeping every answer: what a client saw during an upgrade or a pod's deletion."""

import threading
from dataclasses import dataclass, field

import httpx

MAX_REQUESTS = 5000  # the stream's own bound, whatever happens


@dataclass
class Stream:
    base_url: str
    headers: dict[str, str]
    #: `request(client, i)` sends one request and returns its response.
    request: object
    answers: list[httpx.Response] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self) -> None:
        for i in range(MAX_REQUESTS):
            if self.stop.is_set():
                return
            # A new connection each time, like many clients: nothing is pinned to one pod.
            try:
                with httpx.Client(base_url=self.base_url, headers=self.headers) as c:
                    self.answers.append(self.request(c, i))
            except httpx.HTTPError as error:
                self.errors.append(repr(error))

    def __enter__(self) -> "Stream":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(timeout=120)

    def count(self) -> int:
        return len(self.answers) + len(self.errors)

    def failures(self) -> list[str]:
        """Connection errors and 5xx answers."""
        bad = [f"{r.status_code}: {r.text[:200]}" for r in self.answers if r.status_code >= 500]
        return self.errors + bad
