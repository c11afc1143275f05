-- 0010: a blob's SHA-256 chaining states every 8 MiB (QuiverCore's SHA256Chain, encoded: the stride as 8 bytes,
-- then each state's eight words, all big-endian), recorded when registration hashes the weights file. A download
-- of parallel ranges verifies each range on its own from the state at its start, as its bytes arrive, instead of
-- hashing the whole file in one stream behind the ranges. The states are a property of the bytes, so they live on
-- the blob's row. NULL for blobs recorded before this migration, for small files and where the SHA extensions are
-- missing: readers then hash in one stream, as before. Wrong states cannot pass a wrong file (the pieces compose
-- the one-stream hash from SHA-256's initial state to the digest); they can only refuse a right one, and readers
-- then hash the file in one stream to decide.
ALTER TABLE blobs ADD COLUMN chain bytea;
