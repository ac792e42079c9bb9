DROP TABLE fulfilment_reports;
