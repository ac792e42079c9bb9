DROP TABLE test_transactions;
DROP INDEX payments_unsettled_idx;
DROP TABLE reconcile_cursors;
DROP TABLE reconcile_checks;
