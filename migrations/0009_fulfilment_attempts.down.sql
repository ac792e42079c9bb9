DROP INDEX fulfilments_pending_idx;
DROP TABLE fulfilment_attempts;
