-- Per-user upload quota (media.quota_bytes_per_user): an upload sums its owner's items.
CREATE INDEX media_owner ON media(owner_id, sha256);
