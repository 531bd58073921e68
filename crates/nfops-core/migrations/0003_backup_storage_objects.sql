-- Objects named by the storage snapshots taken with each backup (NULL: the
-- backup has none), for the Backups page. Filled from the manifest on refresh.
ALTER TABLE backup_catalog ADD COLUMN storage_objects INTEGER;
