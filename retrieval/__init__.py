"""PolicyBot's engine: documents in, cited passages out. Never imports discord."""
