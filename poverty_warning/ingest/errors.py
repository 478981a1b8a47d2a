"""The file-level fault of a feed file: the run stops before writing anything (contract §3)."""


class FeedFileError(Exception):
    """A file-level fault: the run stops before writing anything."""
