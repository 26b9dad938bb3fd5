"""The desk service: SMS gateway, outbox dispatcher and the widget's page."""
