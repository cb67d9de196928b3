"""Ratings (好差评): recording them, the 差评 cases that follow, and their working-day deadlines."""
