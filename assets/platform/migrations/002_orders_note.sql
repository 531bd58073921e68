-- v2: orders get a free-text note (shown by GET /orders, accepted by POST /orders).
-- Expand-only, so v1 keeps working against this schema (rollback stays safe).
ALTER TABLE orders ADD COLUMN IF NOT EXISTS note VARCHAR(255) NULL AFTER shipped_at;
