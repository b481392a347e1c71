"""What "as of" means, in one place for the CLI, the API and (later) the web pages."""

from __future__ import annotations

from datetime import UTC, date, datetime, time


def parse_as_of(text: str) -> datetime:
    """A date (YYYY-MM-DD) means the end of that day, UTC: everything decided that day
    counts. A date-time is taken as given (UTC if it names no zone). ValueError otherwise."""
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), time.max, tzinfo=UTC)
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
