"""The learning engine: courses, progress and quizzes, for any channel."""

from gateway.learning.engine import Engine
from gateway.learning.intents import (
    Answer,
    Back,
    Courses,
    Help,
    Intent,
    Language,
    Next,
    Start,
    Status,
    Stop,
    Unknown,
)

__all__ = [
    "Answer",
    "Back",
    "Courses",
    "Engine",
    "Help",
    "Intent",
    "Language",
    "Next",
    "Start",
    "Status",
    "Stop",
    "Unknown",
]
