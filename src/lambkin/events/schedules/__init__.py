"""Schedules: expressions (rate, cron, at), scheduled rules and Scheduler schedules, their durable firings."""
