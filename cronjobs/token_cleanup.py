"""The token-cleanup CronJob: `python3 -m cronjobs.token_cleanup`.

Deletes sessions whose refresh token has expired, then rotated digests past their expiry and
login-throttle counters whose window has passed, in batches of TOKEN_CLEANUP_BATCH_SIZE,
pausing TOKEN_CLEANUP_PAUSE_RATIO times each batch's time after it; logs one JSON summary
line and exits non-zero on failure.
"""

from fastapi_example.cli import main

if __name__ == "__main__":
    main(["cleanup-tokens"])
