"""Outgoing mail: messages are rows written with the change that caused them, sent after it commits, retried until sent."""
