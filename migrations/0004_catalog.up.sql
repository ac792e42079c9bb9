-- Issue 3: the catalog. Products and their bundles (SKUs) per tenant
-- environment, the bundles' prices per country and currency, and the payment
-- side of the catalog (which bundles a payment bought).
--
-- Every row carries tenant_id and environment. Children reference their
-- parent through (id, tenant_id, environment), so a bundle, a price or a
-- payment item can never point at another tenant's (or environment's) row,
-- whatever the code above does.
--
-- "Cannot delete while referenced" uses NO ACTION rather than RESTRICT: a
-- direct delete is refused all the same (23503), but NO ACTION is checked
-- at the end of the statement, so deleting a whole tenant still cascades
-- through products, bundles and payments at once.

CREATE TABLE products (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id         bigint      NOT NULL,
    environment       text        NOT NULL,
    name              text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    description       text        NOT NULL DEFAULT '' CHECK (char_length(description) <= 2000),
    -- '' when the studio has no image yet.
    image_url         text        NOT NULL DEFAULT '' CHECK (char_length(image_url) <= 2048),
    -- ISO 3166-1 alpha-2 codes of the countries the product is enabled in.
    countries         text[]      NOT NULL CHECK (cardinality(countries) BETWEEN 1 AND 250),
    -- plugin: credited through the environment's active fulfilment plugin;
    -- manual: the studio fulfils by itself.
    fulfilment_method text        NOT NULL CHECK (fulfilment_method IN ('plugin', 'manual')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, environment) REFERENCES environments (tenant_id, name) ON DELETE CASCADE,
    UNIQUE (id, tenant_id, environment)
);
CREATE INDEX products_scope_idx ON products (tenant_id, environment, id);

CREATE TABLE bundles (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id             bigint      NOT NULL,
    environment           text        NOT NULL,
    product_id            bigint      NOT NULL,
    -- The partner's SKU: Pay1st's productBundleExternalId.
    sku                   text        NOT NULL CHECK (sku ~ '^[A-Za-z0-9._-]{1,64}$'),
    name                  text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    -- How much digital currency the bundle gives (Pay1st's tokensPurchased).
    quantity              numeric     NOT NULL CHECK (quantity > 0 AND quantity < 1e15 AND scale(quantity) <= 8),
    digital_currency_name text        NOT NULL CHECK (char_length(digital_currency_name) BETWEEN 1 AND 100),
    digital_currency_code text        NOT NULL CHECK (digital_currency_code ~ '^[A-Za-z0-9._-]{1,32}$'),
    -- Pay1st's own productBundleId once the bundle exists in the Pay1st
    -- Console: the Summary Webhook names the bundle by it alone.
    pay1st_bundle_id      bigint      CHECK (pay1st_bundle_id > 0),
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT bundles_sku_key UNIQUE (tenant_id, environment, sku),
    UNIQUE (id, tenant_id, environment),
    FOREIGN KEY (tenant_id, environment) REFERENCES environments (tenant_id, name) ON DELETE CASCADE,
    CONSTRAINT bundles_product_fk FOREIGN KEY (product_id, tenant_id, environment)
        REFERENCES products (id, tenant_id, environment) ON DELETE NO ACTION
);
CREATE UNIQUE INDEX bundles_pay1st_bundle_id_key ON bundles (tenant_id, environment, pay1st_bundle_id)
    WHERE pay1st_bundle_id IS NOT NULL;
CREATE INDEX bundles_scope_idx ON bundles (tenant_id, environment, id);
CREATE INDEX bundles_product_idx ON bundles (product_id, tenant_id, environment);

CREATE TABLE bundle_prices (
    bundle_id     bigint  NOT NULL,
    tenant_id     bigint  NOT NULL,
    environment   text    NOT NULL,
    country_code  text    NOT NULL CHECK (country_code ~ '^[A-Z]{2}$'),
    currency_code text    NOT NULL CHECK (currency_code ~ '^[A-Z]{3}$'),
    -- Exact, with the scale the studio gave ("1000.00" stays "1000.00").
    amount        numeric NOT NULL CHECK (amount > 0 AND amount < 1e15 AND scale(amount) <= 8),
    PRIMARY KEY (bundle_id, country_code, currency_code),
    FOREIGN KEY (bundle_id, tenant_id, environment)
        REFERENCES bundles (id, tenant_id, environment) ON DELETE CASCADE
);

-- The bundles a payment bought, filled by the Summary Webhook and by orders.
-- A bundle that a payment bought cannot be deleted.
-- Payments are referenced with their scope too, so an item can only join a
-- payment of its own tenant and environment.
ALTER TABLE payments ADD CONSTRAINT payments_scope_key UNIQUE (id, tenant_id, environment);

CREATE TABLE payment_items (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payment_id  bigint NOT NULL,
    tenant_id   bigint NOT NULL,
    environment text   NOT NULL,
    bundle_id   bigint NOT NULL,
    quantity    int    NOT NULL CHECK (quantity > 0),
    CONSTRAINT payment_items_payment_fk FOREIGN KEY (payment_id, tenant_id, environment)
        REFERENCES payments (id, tenant_id, environment) ON DELETE CASCADE,
    CONSTRAINT payment_items_bundle_fk FOREIGN KEY (bundle_id, tenant_id, environment)
        REFERENCES bundles (id, tenant_id, environment) ON DELETE NO ACTION
);
CREATE INDEX payment_items_payment_idx ON payment_items (payment_id);
CREATE INDEX payment_items_bundle_idx ON payment_items (bundle_id, tenant_id, environment);
