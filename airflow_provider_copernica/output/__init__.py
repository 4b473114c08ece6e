"""Where rows land: file formats, storage backends with an atomic commit, manifests, the
Asset and the OpenLineage facets of what was written."""
