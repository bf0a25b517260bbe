"""The practice engine: plain Python, no Flask. Modes, item selection, scoring, mastery.

Every user action is one public method of ``PracticeService`` and one transaction, and that
transaction also writes the outbox rows (xAPI statements, grade passback) it causes.
"""
