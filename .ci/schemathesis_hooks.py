"""schemathesis hooks for .ci/outside-test: the bulk imports take NDJSON and CSV lines,
which the document declares as binary strings; send them as the bytes they are."""

import schemathesis

schemathesis.serializer.alias("application/x-ndjson", "application/octet-stream")
schemathesis.serializer.alias("text/csv", "application/octet-stream")
