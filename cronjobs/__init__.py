"""Scheduled jobs, run in the API image as `python3 -m cronjobs.<job>`."""
