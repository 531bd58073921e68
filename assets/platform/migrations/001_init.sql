-- v1 schema of the NewFinity stand-in. Re-runnable: every statement is IF NOT EXISTS.
-- Covers what a dump/restore must survive: foreign keys, JSON, BLOBs, utf8mb4
-- (emoji, CJK), NULLs, DATE/DATETIME(6), a generated column, a table without a
-- primary key, and a legacy table that accepts zero dates.
CREATE TABLE IF NOT EXISTS users (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  email VARCHAR(190) NOT NULL,
  display_name VARCHAR(190) NOT NULL,
  bio TEXT NULL,
  profile JSON NULL CHECK (profile IS NULL OR JSON_VALID(profile)),
  avatar BLOB NULL,
  created_at DATETIME NOT NULL,
  last_login_at DATETIME(6) NULL,
  birth_date DATE NULL,
  UNIQUE KEY uq_users_email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS orders (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id BIGINT UNSIGNED NOT NULL,
  status ENUM('pending','paid','shipped','cancelled','refunded') NOT NULL,
  quantity INT NOT NULL,
  unit_price_cents INT NOT NULL,
  total_cents BIGINT AS (quantity * unit_price_cents) STORED,
  currency CHAR(3) NOT NULL DEFAULT 'EUR',
  items JSON NOT NULL CHECK (JSON_VALID(items)),
  placed_at DATETIME NOT NULL,
  shipped_at DATETIME NULL,
  KEY idx_orders_user (user_id),
  KEY idx_orders_placed (placed_at),
  CONSTRAINT fk_orders_user FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS files (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id BIGINT UNSIGNED NULL,
  bucket VARCHAR(63) NOT NULL,
  s3_key VARCHAR(512) NOT NULL,
  content_type VARCHAR(100) NOT NULL,
  size_bytes BIGINT NOT NULL,
  sha256 CHAR(64) NOT NULL,
  versions INT NOT NULL DEFAULT 1,
  created_at DATETIME NOT NULL,
  KEY idx_files_key (s3_key(191)),
  CONSTRAINT fk_files_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Deliberately without a primary key (append-only event log).
CREATE TABLE IF NOT EXISTS audit_events (
  occurred_at DATETIME(3) NOT NULL,
  actor_id BIGINT UNSIGNED NULL,
  action VARCHAR(64) NOT NULL,
  payload JSON NULL,
  raw BLOB NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS reports (
  job_id CHAR(36) NOT NULL PRIMARY KEY,
  kind VARCHAR(32) NOT NULL,
  s3_key VARCHAR(512) NULL,
  row_count BIGINT NULL,
  sha256 CHAR(64) NULL,
  created_at DATETIME NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Rows imported from the old system: zero dates and extreme DATETIME values.
CREATE TABLE IF NOT EXISTS legacy_imports (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  source VARCHAR(64) NOT NULL,
  imported_at DATETIME NOT NULL DEFAULT '0000-00-00 00:00:00',
  valid_until DATE NULL,
  note VARCHAR(255) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
