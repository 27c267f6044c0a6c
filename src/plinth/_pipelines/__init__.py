"""The pipeline engine: graphs of steps, reuse, the detached pipeline driver, schedules."""
