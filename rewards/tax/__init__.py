"""Tax details finance must collect from referrers (legal name, country, tax id), the tax id encrypted at rest."""
