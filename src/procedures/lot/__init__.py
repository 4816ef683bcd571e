"""Production lots: many units of one board design measured one after another, drawn or listed."""
