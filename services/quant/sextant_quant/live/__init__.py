"""Live analytics: per-bar figures of every instrument with live bars, on the bus."""
