DROP TABLE IF EXISTS payment_items;
ALTER TABLE payments DROP CONSTRAINT IF EXISTS payments_scope_key;
DROP TABLE IF EXISTS bundle_prices;
DROP TABLE IF EXISTS bundles;
DROP TABLE IF EXISTS products;
