"""Course content: the authored text format, its parser and its checks."""

from gateway.content.model import Card, Course, Lesson, Question
from gateway.content.parser import ContentError, Problem, load_courses

__all__ = ["Card", "ContentError", "Course", "Lesson", "Problem", "Question", "load_courses"]
