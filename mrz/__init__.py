"""Passport machine-readable zone (ICAO 9303 TD3): strict parsing, binding to the card holder,
and offline OCR of a data page."""
