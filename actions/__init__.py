"""Custom actions of the Jikimi assistant, one module per conversation."""
