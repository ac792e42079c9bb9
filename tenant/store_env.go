package tenant

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/internal/db"
)

// sealedSecret is a credential column as stored: sealed bytes (nil when not
// set) and when it was set.
type sealedSecret struct {
	sealed []byte
	setAt  *time.Time
}

// envRow is an environment as stored, secrets still sealed. Env resolution
// (webhooks) and the settings (management API) both read it.
type envRow struct {
	tenantID       int64
	partnerCode    string
	partnerID      int64
	tenantStatus   string
	name           string
	authMode       string
	ipAllowList    []netip.Prefix
	callbacks      Callbacks
	activePluginID *int64
	updatedAt      time.Time

	signingKey, apiKey, apiSecret, basicUser, basicPass, webhookToken sealedSecret

	prevSigningKey        []byte
	prevSigningKeyUntil   *time.Time
	prevWebhookToken      []byte
	prevWebhookTokenUntil *time.Time
}

// envColumns reads an envRow from tenants t joined with environments e.
// Keys sealed by issue 2 have no set time: they were set at creation.
const envColumns = `t.id, t.partner_code, t.partner_id, t.status, e.name, e.auth_mode, e.ip_allow_list,
	e.callback_success_url, e.callback_failure_url, e.callback_pending_url, e.callback_cancel_url,
	e.active_plugin_id, e.updated_at,
	e.signing_key, COALESCE(e.signing_key_set_at, CASE WHEN e.signing_key IS NOT NULL THEN e.created_at END),
	e.api_key, e.api_key_set_at, e.api_secret, e.api_secret_set_at,
	e.basic_auth_username, e.basic_auth_username_set_at, e.basic_auth_password, e.basic_auth_password_set_at,
	e.webhook_token, e.webhook_token_set_at,
	e.previous_signing_key, e.previous_signing_key_expires_at,
	e.previous_webhook_token, e.previous_webhook_token_expires_at`

func scanEnv(row pgx.Row) (envRow, error) {
	var r envRow
	err := row.Scan(&r.tenantID, &r.partnerCode, &r.partnerID, &r.tenantStatus, &r.name, &r.authMode, &r.ipAllowList,
		&r.callbacks.Success, &r.callbacks.Failure, &r.callbacks.Pending, &r.callbacks.Cancel,
		&r.activePluginID, &r.updatedAt,
		&r.signingKey.sealed, &r.signingKey.setAt,
		&r.apiKey.sealed, &r.apiKey.setAt, &r.apiSecret.sealed, &r.apiSecret.setAt,
		&r.basicUser.sealed, &r.basicUser.setAt, &r.basicPass.sealed, &r.basicPass.setAt,
		&r.webhookToken.sealed, &r.webhookToken.setAt,
		&r.prevSigningKey, &r.prevSigningKeyUntil,
		&r.prevWebhookToken, &r.prevWebhookTokenUntil)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ErrNotFound
	}
	return r, err
}

// envByCode reads a tenant environment by partnerCode, for Env resolution.
func (store) envByCode(ctx context.Context, q db.Querier, code, name string) (envRow, error) {
	r, err := scanEnv(q.QueryRow(ctx, `SELECT `+envColumns+`
		FROM tenants t JOIN environments e ON e.tenant_id = t.id
		WHERE t.partner_code = $1 AND e.name = $2`, code, name))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return r, fmt.Errorf("get environment: %w", err)
	}
	return r, err
}

// envByTenant reads one environment of a tenant; forUpdate locks its row
// until the transaction ends, so concurrent changes apply one after another.
func (store) envByTenant(ctx context.Context, q db.Querier, tenantID int64, name string, forUpdate bool) (envRow, error) {
	sql := `SELECT ` + envColumns + `
		FROM tenants t JOIN environments e ON e.tenant_id = t.id
		WHERE t.id = $1 AND e.name = $2`
	if forUpdate {
		sql += ` FOR UPDATE OF e`
	}
	r, err := scanEnv(q.QueryRow(ctx, sql, tenantID, name))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return r, fmt.Errorf("get environment: %w", err)
	}
	return r, err
}

// envsByTenant reads a tenant's environments, staging first.
func (store) envsByTenant(ctx context.Context, q db.Querier, tenantID int64) ([]envRow, error) {
	rows, err := q.Query(ctx, `SELECT `+envColumns+`
		FROM tenants t JOIN environments e ON e.tenant_id = t.id
		WHERE t.id = $1 ORDER BY e.name = 'production', e.name`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list environments: %w", err)
	}
	defer rows.Close()
	var out []envRow
	for rows.Next() {
		r, err := scanEnv(rows)
		if err != nil {
			return nil, fmt.Errorf("list environments: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list environments: %w", err)
	}
	return out, nil
}

// updateEnv writes every changeable column of r back to its row.
func (store) updateEnv(ctx context.Context, q db.Querier, r envRow) error {
	allow := r.ipAllowList
	if allow == nil {
		allow = []netip.Prefix{} // NOT NULL: an empty list, not NULL
	}
	tag, err := q.Exec(ctx, `UPDATE environments SET
		auth_mode = $3, ip_allow_list = $4,
		callback_success_url = $5, callback_failure_url = $6, callback_pending_url = $7, callback_cancel_url = $8,
		signing_key = $9, signing_key_set_at = $10,
		api_key = $11, api_key_set_at = $12, api_secret = $13, api_secret_set_at = $14,
		basic_auth_username = $15, basic_auth_username_set_at = $16, basic_auth_password = $17, basic_auth_password_set_at = $18,
		webhook_token = $19, webhook_token_set_at = $20,
		previous_signing_key = $21, previous_signing_key_expires_at = $22,
		previous_webhook_token = $23, previous_webhook_token_expires_at = $24,
		updated_at = now()
		WHERE tenant_id = $1 AND name = $2`,
		r.tenantID, r.name, r.authMode, allow,
		r.callbacks.Success, r.callbacks.Failure, r.callbacks.Pending, r.callbacks.Cancel,
		r.signingKey.sealed, r.signingKey.setAt,
		r.apiKey.sealed, r.apiKey.setAt, r.apiSecret.sealed, r.apiSecret.setAt,
		r.basicUser.sealed, r.basicUser.setAt, r.basicPass.sealed, r.basicPass.setAt,
		r.webhookToken.sealed, r.webhookToken.setAt,
		r.prevSigningKey, r.prevSigningKeyUntil,
		r.prevWebhookToken, r.prevWebhookTokenUntil)
	if err != nil {
		return fmt.Errorf("update environment: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}
