"""One training job in a process of its own: `python -m app.training.worker`.

The server writes the job as one JSON line on stdin and reads JSON lines from stdout:
`{"progress": [[step, loss], ...]}` a few times a second, then `{"done": path, "steps",
"stopped"}` or `{"error": message}`. A line `stop` on stdin, or stdin closing (the server
went away), ends training after the step in progress; the weights are then written as
they are. The model is written atomically (temporary file, then rename), so a crash
leaves no half-written file under the final name.
"""

from __future__ import annotations

import json
import sys
import threading
import time

SEND_EVERY = 0.1  # seconds between progress lines


def _send(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> int:
    import cells
    from app.training.files import save_model_atomic

    job = json.loads(sys.stdin.readline())
    limit = job.get("address_space")
    if limit:  # a bad estimate fails this job with MemoryError, not the machine
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (int(limit), int(limit)))
    stop = threading.Event()
    server_gone = threading.Event()

    def watch_stdin() -> None:
        for line in sys.stdin:
            if line.strip() == "stop":
                stop.set()
                return
        server_gone.set()  # the pipe closed: no one will read the weights
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    pending: list[list] = []
    sent = [time.monotonic()]

    def on_progress(step: int, loss: float) -> bool:
        pending.append([step, float(loss)])
        now = time.monotonic()
        if now - sent[0] >= SEND_EVERY or step == job["steps"]:
            _send({"progress": pending[:]})
            pending.clear()
            sent[0] = now
        return not stop.is_set()

    try:
        text = job["text"]
        model = cells.char_model(job["cell"], cells.text.derive_vocabulary(text),
                                 hidden_size=job["hidden_size"], layers=job["layers"],
                                 seed=job["seed"])
        result = cells.train(model, text, steps=job["steps"], seq_len=job["seq_len"],
                             batch=job["batch"], lr=job["lr"], seed=job["seed"],
                             on_progress=on_progress)
        if server_gone.is_set():
            return 1
        if pending:
            _send({"progress": pending})
        save_model_atomic(result.model, job["out"])
    except MemoryError:
        _send({"error": f"the job needed more than its memory limit of {limit:,} bytes "
                        "(setting max_train_address_space); use a smaller batch, seq_len, "
                        "hidden_size or layers"})
        return 1
    except (ValueError, OSError) as exc:
        _send({"error": str(exc)})
        return 1
    _send({"done": job["out"], "steps": len(result.losses), "stopped": stop.is_set()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
