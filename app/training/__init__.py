"""Training from the command line (`gatescope train`) and as server jobs (`/api/train`).

The engine trains (`cells.train`); this package runs it where a user can watch, stop and
keep the result: a progress bar and Ctrl-C on a terminal, a worker process per job behind
the HTTP API.
"""
