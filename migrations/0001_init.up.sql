-- partnerhub's first schema: tenants, environments, API keys, plugin binaries,
-- inbound deliveries, payments with their event history, and fulfilments.

CREATE TABLE tenants (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_code text        NOT NULL UNIQUE CHECK (partner_code ~ '^[a-z0-9][a-z0-9_-]{1,63}$'),
    partner_id   bigint      NOT NULL UNIQUE CHECK (partner_id > 0),
    name         text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    status       text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Plugin executables, content-addressed so every node can fetch the same bytes.
CREATE TABLE plugin_blobs (
    sha256     text        PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size       bigint      NOT NULL,
    data       bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE plugins (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       text        NOT NULL,
    version    text        NOT NULL,
    sha256     text        NOT NULL REFERENCES plugin_blobs (sha256),
    os         text        NOT NULL,
    arch       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name, version)
);

CREATE TABLE environments (
    tenant_id        bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name             text        NOT NULL CHECK (name IN ('staging', 'production')),
    -- Sealed (AES-GCM) with the configured secret key; never stored in clear.
    signing_key      bytea,
    auth_mode        text        NOT NULL DEFAULT 'signature' CHECK (auth_mode IN ('signature', 'token', 'none')),
    active_plugin_id bigint      REFERENCES plugins (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name),
    CHECK (name = 'staging' OR auth_mode <> 'none')
);

CREATE TABLE api_keys (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    prefix       text        NOT NULL UNIQUE,
    secret_hash  bytea       NOT NULL,
    scope        text        NOT NULL CHECK (scope IN ('operator', 'tenant')),
    tenant_id    bigint      REFERENCES tenants (id) ON DELETE CASCADE,
    role         text        NOT NULL DEFAULT 'admin' CHECK (role IN ('admin', 'viewer')),
    name         text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz,
    CHECK ((scope = 'operator') = (tenant_id IS NULL))
);

-- Every request that reached a tenant endpoint, accepted or rejected.
CREATE TABLE deliveries (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at    timestamptz NOT NULL DEFAULT now(),
    -- Returned to the caller as sessionId, and logged: ties a complaint to a row.
    session_id     text        NOT NULL,
    tenant_id      bigint      REFERENCES tenants (id) ON DELETE CASCADE,
    partner_code   text        NOT NULL,
    environment    text        NOT NULL,
    kind           text        NOT NULL,
    remote_addr    text        NOT NULL,
    headers        jsonb       NOT NULL,
    body           bytea       NOT NULL,
    body_truncated boolean     NOT NULL DEFAULT false,
    verdict        text        NOT NULL CHECK (verdict IN ('accepted', 'duplicate', 'rejected')),
    reason         text        NOT NULL DEFAULT '',
    status_code    int         NOT NULL,
    reference      text
);
CREATE INDEX deliveries_tenant_received_idx ON deliveries (tenant_id, environment, received_at DESC);
CREATE INDEX deliveries_reference_idx ON deliveries (tenant_id, environment, reference) WHERE reference IS NOT NULL;

CREATE TABLE payments (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id         bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    environment       text        NOT NULL,
    reference         text        NOT NULL,
    partner_reference text        NOT NULL,
    status            text        NOT NULL,
    amount            numeric     NOT NULL,
    currency_code     text        NOT NULL,
    country_code      text        NOT NULL,
    customer_id       bigint      NOT NULL,
    payment_method    text        NOT NULL,
    -- updatedDate of the event that set the current status; an older event never wins.
    status_updated_at timestamptz NOT NULL,
    created_date      timestamptz NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, environment, reference)
);
CREATE INDEX payments_partner_reference_idx ON payments (tenant_id, environment, partner_reference);

CREATE TABLE payment_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payment_id   bigint      NOT NULL REFERENCES payments (id) ON DELETE CASCADE,
    tenant_id    bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    environment  text        NOT NULL,
    delivery_id  bigint      REFERENCES deliveries (id) ON DELETE SET NULL,
    status       text        NOT NULL,
    updated_date timestamptz NOT NULL,
    -- Whether this event became the payment's current status when it arrived.
    applied      boolean     NOT NULL,
    payload      jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (payment_id, status, updated_date)
);

CREATE TABLE fulfilments (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id        bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    environment      text        NOT NULL,
    payment_id       bigint      NOT NULL REFERENCES payments (id) ON DELETE CASCADE,
    kind             text        NOT NULL CHECK (kind IN ('fulfil', 'reverse')),
    idempotency_key  text        NOT NULL,
    state            text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'succeeded', 'failed')),
    plugin_id        bigint      REFERENCES plugins (id),
    attempts         int         NOT NULL DEFAULT 0,
    last_error       text        NOT NULL DEFAULT '',
    result_reference text        NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    succeeded_at     timestamptz,
    UNIQUE (payment_id, kind)
);
CREATE INDEX fulfilments_state_idx ON fulfilments (tenant_id, environment, state);
