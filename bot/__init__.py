"""PolicyBot's Discord adapter: slash commands, mentions and buttons over ``retrieval.Service``."""
