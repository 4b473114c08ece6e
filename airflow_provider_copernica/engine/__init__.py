"""Running an extraction: request plans, paging styles, ordered streams, row conversion,
counting and previews. Calls the client; never called back by it."""
