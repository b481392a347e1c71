"""The public tracker: pages and JSON anyone may read, with no sign-in, when the operator
publishes the ledger (INQUIRY_LEDGER_PUBLIC=on), each carrying what a reader needs to
check it against the log's key and the witnesses' keys in their own browser."""
