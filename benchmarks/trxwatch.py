"""Samples InnoDB's open transactions every 10 ms; prints the most rows one had changed.

Run beside the cleanup job; stopped with SIGTERM. A lower bound of the largest transaction
(a sample can fall before a delete finishes), next to the job's own count per batch.
"""

import signal
import sys
import time

import seed

largest = 0


def stop(*_):
    print(largest, flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
with seed.connect() as conn, conn.cursor() as cur:
    while True:
        cur.execute("SELECT COALESCE(MAX(trx_rows_modified), 0) FROM information_schema.innodb_trx")
        largest = max(largest, int(cur.fetchone()[0]))
        time.sleep(0.01)
