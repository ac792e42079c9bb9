-- Issue 3: what each tenant environment holds besides its auth mode. Pay1st
-- credentials, sealed (AES-GCM, bound to tenant, environment and column) and
-- never stored in clear, each with the time it last changed; the replaced
-- Signing Key and webhook token, which still verify until their expiry (the
-- rotation grace period); the IP allow-list for payment events; and the four
-- customer callback URLs partnerhub redirects to.
ALTER TABLE environments
    ADD COLUMN signing_key_set_at                timestamptz,
    ADD COLUMN previous_signing_key              bytea,
    ADD COLUMN previous_signing_key_expires_at   timestamptz,
    ADD COLUMN api_key                           bytea,
    ADD COLUMN api_key_set_at                    timestamptz,
    ADD COLUMN api_secret                        bytea,
    ADD COLUMN api_secret_set_at                 timestamptz,
    ADD COLUMN basic_auth_username               bytea,
    ADD COLUMN basic_auth_username_set_at        timestamptz,
    ADD COLUMN basic_auth_password               bytea,
    ADD COLUMN basic_auth_password_set_at        timestamptz,
    -- The secret of auth mode "token", carried as ?token= in the webhook URL.
    ADD COLUMN webhook_token                     bytea,
    ADD COLUMN webhook_token_set_at              timestamptz,
    ADD COLUMN previous_webhook_token            bytea,
    ADD COLUMN previous_webhook_token_expires_at timestamptz,
    -- Empty: payment events are accepted from any address.
    ADD COLUMN ip_allow_list                     cidr[] NOT NULL DEFAULT '{}'
        CHECK (cardinality(ip_allow_list) <= 100),
    ADD COLUMN callback_success_url              text NOT NULL DEFAULT '' CHECK (length(callback_success_url) <= 2048),
    ADD COLUMN callback_failure_url              text NOT NULL DEFAULT '' CHECK (length(callback_failure_url) <= 2048),
    ADD COLUMN callback_pending_url              text NOT NULL DEFAULT '' CHECK (length(callback_pending_url) <= 2048),
    ADD COLUMN callback_cancel_url               text NOT NULL DEFAULT '' CHECK (length(callback_cancel_url) <= 2048),
    ADD CONSTRAINT environments_previous_signing_key_check
        CHECK ((previous_signing_key IS NULL) = (previous_signing_key_expires_at IS NULL)),
    ADD CONSTRAINT environments_previous_webhook_token_check
        CHECK ((previous_webhook_token IS NULL) = (previous_webhook_token_expires_at IS NULL)),
    -- Token mode always has a token; other modes keep none.
    ADD CONSTRAINT environments_webhook_token_mode_check
        CHECK ((auth_mode = 'token') = (webhook_token IS NOT NULL)
               AND (auth_mode = 'token' OR previous_webhook_token IS NULL));

-- Keys sealed before this migration were set when their environment was created.
UPDATE environments SET signing_key_set_at = created_at WHERE signing_key IS NOT NULL;
