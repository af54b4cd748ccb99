"""Market data providers. Copy ``simulated`` (the annotated example) to write a new one."""
