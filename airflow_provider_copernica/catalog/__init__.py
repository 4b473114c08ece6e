"""What can be extracted: one declarative entry per dataset, and the vocabulary entries use
(columns, window styles, option-shaped entries such as ``endpoint`` and ``logfile_events``)."""
