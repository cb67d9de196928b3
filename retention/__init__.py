"""Retention: removing every copy of personal data past its time, wherever it is kept."""
