"""Images in, uint8 splits out: the registry, loaders, folders and zips, decoding, budgets, uploads."""
