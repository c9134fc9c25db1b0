"""The WhatsApp channel: the same learners and courses as SMS, taught in whole cards with
reply buttons and lists (docs/architecture.md)."""
