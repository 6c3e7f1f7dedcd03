-- Installations Clockify has deleted, by (workspace, addonId). A lifecycle
-- call naming one of them changes nothing: a replayed DELETED or INSTALLED
-- of an earlier installation must not touch the live one. `deleted_at` is
-- also where the clean-up job stops: rows of a workspace written up to then
-- belong to the deleted installation. A row is small and kept for good.
CREATE TABLE deleted_installations (
    workspace_id TEXT NOT NULL,
    addon_id     TEXT NOT NULL,
    deleted_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, addon_id)
);
