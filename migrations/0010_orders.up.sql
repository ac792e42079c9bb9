-- Issue 6: orders, the payments partnerhub creates at the Pay1st Gateway on a
-- tenant's behalf (POST .../orders). An order is stored before Pay1st is
-- called, so a lost answer leaves a trace (status creating or unknown) that
-- a retry or reconciliation can resolve, never a second payment.
CREATE TABLE orders (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id         bigint      NOT NULL,
    environment       text        NOT NULL,
    -- The partner's own reference: unique forever at Pay1st, so per tenant
    -- environment here; it is the idempotency key of create-order.
    partner_reference text        NOT NULL CHECK (char_length(partner_reference) BETWEEN 1 AND 128),
    -- Which Pay1st the payment was created at.
    gateway           text        NOT NULL CHECK (gateway IN ('pay1st', 'simulator')),
    -- Pay1st's reference, once Pay1st answered the create (or an event
    -- told it). As long as an event may carry (pay1st.MaxStringBytes).
    reference         text        CHECK (char_length(reference) BETWEEN 1 AND 512),
    -- creating: stored, Pay1st not (yet) known to have it; created: Pay1st
    -- answered with a reference; unknown: Pay1st refused the
    -- partnerReference as used, after an answer was lost (it may exist);
    -- failed: Pay1st refused the request (nothing was created); flagged:
    -- Pay1st's create answered another reference than an event had taught
    -- (the order keeps the first; an operator must look).
    status            text        NOT NULL CHECK (status IN ('creating', 'created', 'unknown', 'failed', 'flagged')),
    country_code      text        NOT NULL CHECK (country_code ~ '^[A-Z]{2}$'),
    currency_code     text        NOT NULL CHECK (currency_code ~ '^[A-Z]{3}$'),
    amount            numeric     NOT NULL CHECK (amount > 0 AND amount < 1e15),
    customer_id       bigint      NOT NULL CHECK (customer_id > 0),
    -- While a request is calling Pay1st for this order, until when: a
    -- concurrent identical request waits its turn instead of calling too
    -- (a second create would be refused and look like a lost answer).
    -- The checkout link is not stored: it holds a Pay1st access token.
    calling_until     timestamptz,
    -- A call may have reached Pay1st without its answer (a 5xx, no answer):
    -- a later refusal may be about that request, so it makes the order
    -- unknown, not failed.
    may_exist         boolean     NOT NULL DEFAULT false,
    -- Why the last call to Pay1st failed (Pay1st's message, no secrets).
    last_error        text        NOT NULL DEFAULT '' CHECK (char_length(last_error) <= 1024),
    -- SHA-256 of the request's meaningful fields: a repeat with another body
    -- is a conflict, not the same order.
    request_hash      bytea       NOT NULL CHECK (length(request_hash) = 32),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, environment) REFERENCES environments (tenant_id, name) ON DELETE CASCADE,
    CONSTRAINT orders_partner_reference_key UNIQUE (tenant_id, environment, partner_reference),
    UNIQUE (id, tenant_id, environment),
    CHECK (status NOT IN ('created', 'flagged') OR reference IS NOT NULL)
);
CREATE UNIQUE INDEX orders_reference_key ON orders (tenant_id, environment, reference) WHERE reference IS NOT NULL;
CREATE INDEX orders_scope_idx ON orders (tenant_id, environment, id);
-- Reconciliation asks Pay1st about created orders no webhook followed,
-- within a window of created_at (payment/store_reconcile.go).
CREATE INDEX orders_reconcile_idx ON orders (created_at) WHERE status = 'created' AND reference IS NOT NULL;

-- An order's lines, priced from the catalog when the order was made. What
-- fulfilment credits is this snapshot, not the catalog of today, so a line
-- keeps no reference to its bundle: the catalog stays free to change.
CREATE TABLE order_items (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id              bigint  NOT NULL,
    tenant_id             bigint  NOT NULL,
    environment           text    NOT NULL,
    sku                   text    NOT NULL,
    title                 text    NOT NULL,
    quantity              int     NOT NULL CHECK (quantity > 0),
    -- Price of one unit, in the order's currency.
    price                 numeric NOT NULL CHECK (price > 0),
    digital_currency_code text    NOT NULL,
    digital_currency_name text    NOT NULL,
    -- Digital currency one unit credits (the bundle's quantity then).
    digital_amount        numeric NOT NULL CHECK (digital_amount > 0),
    CONSTRAINT order_items_order_fk FOREIGN KEY (order_id, tenant_id, environment)
        REFERENCES orders (id, tenant_id, environment) ON DELETE CASCADE
);
CREATE INDEX order_items_order_idx ON order_items (order_id);
