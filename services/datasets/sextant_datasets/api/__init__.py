"""HTTP query API of the datasets service."""
