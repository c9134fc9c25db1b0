"""Outgoing messages: queuing them (every channel and the scheduler do it through here), and
the worker that sends them, supervised under `learnline serve`."""
