"""The operator's tools: the dashboard at /admin and its charts, the reports behind it and
`learnline stats`, `learnline doctor`, backup and restore, announcements."""
