"""ranked passages -> cited Answer: extractive composer and abstention."""
