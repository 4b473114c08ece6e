"""A faithful copy over time: the state kept beside the output, deletions, schema drift
and restatement of earlier intervals."""
