-- Issue 4: Shop payments, told to partnerhub by the Summary Webhook. A Shop
-- payment has no Payment Webhook Event: it names a player and a Pay1st
-- bundle, not a customer, a country or an order reference. The gateway-only
-- columns get neutral defaults so a Shop payment can be stored beside
-- gateway ones under the same (tenant, environment, reference) identity.
ALTER TABLE payments
    -- gateway: built from Payment Webhook Events; shop: from a Summary Webhook.
    ADD COLUMN source    text NOT NULL DEFAULT 'gateway' CHECK (source IN ('gateway', 'shop')),
    -- The game's player id (Summary Webhook playerId); NULL for gateway payments.
    ADD COLUMN player_id text CHECK (char_length(player_id) BETWEEN 1 AND 128),
    ADD CONSTRAINT payments_shop_player_check CHECK ((source = 'shop') = (player_id IS NOT NULL)),
    ALTER COLUMN partner_reference SET DEFAULT '',
    ALTER COLUMN country_code SET DEFAULT '',
    ALTER COLUMN customer_id SET DEFAULT 0,
    ALTER COLUMN payment_method SET DEFAULT '',
    ALTER COLUMN status_updated_at SET DEFAULT now(),
    ALTER COLUMN created_date SET DEFAULT now();

-- How much digital currency one unit of an item credits, when Pay1st said
-- so (a Summary's tokensPurchased, recorded with quantity 1); NULL means the
-- bundle's quantity.
ALTER TABLE payment_items
    ADD COLUMN digital_amount numeric CHECK (digital_amount > 0 AND digital_amount < 1e15 AND scale(digital_amount) <= 8);
