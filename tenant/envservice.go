package tenant

import (
	"context"
	"crypto/subtle"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/internal/db"
)

// WithSecretGrace sets how long a replaced Signing Key or webhook token still
// verifies after a rotation (0: the old one stops at once). Values outside
// 0..MaxSecretGrace are clamped.
func WithSecretGrace(d time.Duration) Option {
	return func(s *Service) { s.grace = min(max(d, 0), MaxSecretGrace) }
}

// WithClock sets the clock that stamps credential changes and grace periods;
// tests move it to see a grace period end.
func WithClock(now func() time.Time) Option {
	return func(s *Service) {
		if now != nil {
			s.now = now
		}
	}
}

// Environment audit actions.
const (
	ActionEnvUpdate          = "environment.update"
	ActionEnvCredentialsSet  = "environment.set_credentials"
	ActionSigningKeyRotate   = "environment.rotate_signing_key"
	ActionWebhookTokenRotate = "environment.rotate_webhook_token"
)

// loadEnv reads a tenant environment and opens its secrets, for Env.
func (s *Service) loadEnv(ctx context.Context, code, env string) (Env, error) {
	r, err := s.store.envByCode(ctx, s.pool, code, env)
	if err != nil {
		return Env{}, err
	}
	e := Env{
		TenantID: r.tenantID, PartnerCode: r.partnerCode, PartnerID: r.partnerID, TenantStatus: r.tenantStatus,
		Name: r.name, AuthMode: r.authMode, IPAllowList: r.ipAllowList, Callbacks: r.callbacks,
	}
	if r.activePluginID != nil {
		e.ActivePluginID = *r.activePluginID
	}
	for _, f := range []struct {
		cred   credential
		sealed []byte
		dst    *string
	}{
		{credSigningKey, r.signingKey.sealed, &e.SigningKey},
		{credPrevSigningKey, r.prevSigningKey, &e.PreviousSigningKey},
		{credWebhookToken, r.webhookToken.sealed, &e.WebhookToken},
		{credPrevWebhookToken, r.prevWebhookToken, &e.PreviousWebhookToken},
		{credBasicAuthUsername, r.basicUser.sealed, &e.BasicAuthUsername},
		{credBasicAuthPassword, r.basicPass.sealed, &e.BasicAuthPassword},
	} {
		if f.sealed == nil {
			continue
		}
		v, err := s.box.Open(f.sealed, sealContext(f.cred, r.tenantID, r.name))
		if err != nil {
			return Env{}, fmt.Errorf("open %s of %s/%s: %w", f.cred.field, code, env, err)
		}
		*f.dst = string(v)
	}
	if r.prevSigningKeyUntil != nil {
		e.PreviousSigningKeyUntil = *r.prevSigningKeyUntil
	}
	if r.prevWebhookTokenUntil != nil {
		e.PreviousWebhookTokenUntil = *r.prevWebhookTokenUntil
	}
	return e, nil
}

// settings turns a stored row into what may be shown: no secret, only
// whether each is set and when it changed.
func (s *Service) settings(r envRow) EnvSettings {
	now := s.now()
	state := func(x sealedSecret) SecretState {
		st := SecretState{Set: x.sealed != nil}
		if st.Set && x.setAt != nil {
			st.UpdatedAt = *x.setAt
		}
		return st
	}
	until := func(sealed []byte, t *time.Time) time.Time {
		if sealed == nil || t == nil || !now.Before(*t) {
			return time.Time{}
		}
		return *t
	}
	out := EnvSettings{
		TenantID: r.tenantID, Name: r.name, AuthMode: r.authMode, IPAllowList: r.ipAllowList,
		Callbacks: r.callbacks, UpdatedAt: r.updatedAt,
		Credentials: CredentialState{
			APIKey: state(r.apiKey), APISecret: state(r.apiSecret), SigningKey: state(r.signingKey),
			BasicAuthUsername: state(r.basicUser), BasicAuthPassword: state(r.basicPass),
			WebhookToken:              state(r.webhookToken),
			PreviousSigningKeyUntil:   until(r.prevSigningKey, r.prevSigningKeyUntil),
			PreviousWebhookTokenUntil: until(r.prevWebhookToken, r.prevWebhookTokenUntil),
		},
	}
	if r.activePluginID != nil {
		out.ActivePluginID = *r.activePluginID
	}
	return out
}

// Environments returns both environments of t, staging first.
func (s *Service) Environments(ctx context.Context, t Tenant) ([]EnvSettings, error) {
	rows, err := s.store.envsByTenant(ctx, s.pool, t.ID)
	if err != nil {
		return nil, err
	}
	out := make([]EnvSettings, 0, len(rows))
	for _, r := range rows {
		out = append(out, s.settings(r))
	}
	return out, nil
}

// Environment returns one environment of t; an unknown name is ErrNotFound.
func (s *Service) Environment(ctx context.Context, t Tenant, env string) (EnvSettings, error) {
	if !ValidEnv(env) {
		return EnvSettings{}, ErrNotFound
	}
	r, err := s.store.envByTenant(ctx, s.pool, t.ID, env, false)
	if err != nil {
		return EnvSettings{}, err
	}
	return s.settings(r), nil
}

// inEnvTx runs fn in a transaction and then makes this node forget t's
// cached environments again (fn's saveEnv notified the other nodes).
func (s *Service) inEnvTx(ctx context.Context, t Tenant, fn func(tx pgx.Tx) error) error {
	err := db.InTx(ctx, s.pool, fn)
	if err == nil {
		s.forget(t.PartnerCode)
	}
	return err
}

// lockEnv reads env of t for update.
func (s *Service) lockEnv(ctx context.Context, tx pgx.Tx, t Tenant, env string) (envRow, error) {
	if !ValidEnv(env) {
		return envRow{}, ErrNotFound
	}
	return s.store.envByTenant(ctx, tx, t.ID, env, true)
}

// saveEnv writes r, audits the change and announces it (changedTx).
func (s *Service) saveEnv(ctx context.Context, tx pgx.Tx, t Tenant, r envRow, action string, details map[string]any) (EnvSettings, error) {
	if err := s.store.updateEnv(ctx, tx, r); err != nil {
		return EnvSettings{}, err
	}
	if err := s.AuditTx(ctx, tx, action, t.ID, "environment:"+r.name, details); err != nil {
		return EnvSettings{}, err
	}
	if err := s.changedTx(ctx, tx, t.PartnerCode); err != nil {
		return EnvSettings{}, err
	}
	// Read back for updated_at; the row is ours until the transaction ends.
	saved, err := s.store.envByTenant(ctx, tx, t.ID, r.name, false)
	if err != nil {
		return EnvSettings{}, err
	}
	return s.settings(saved), nil
}

// UpdateEnvironment changes env's auth mode, IP allow-list or callback URLs
// (nil fields stay). Switching to token mode generates a webhook token,
// returned once in EnvChanged; leaving token mode drops it. none is refused
// outside staging. The change is audited (environment.update).
func (s *Service) UpdateEnvironment(ctx context.Context, t Tenant, env string, p EnvPatch) (EnvChanged, error) {
	var c EnvChanged
	err := s.inEnvTx(ctx, t, func(tx pgx.Tx) error {
		var err error
		c, err = s.UpdateEnvironmentTx(ctx, tx, t, env, p)
		return err
	})
	return c, err
}

// UpdateEnvironmentTx is UpdateEnvironment inside the caller's transaction.
func (s *Service) UpdateEnvironmentTx(ctx context.Context, tx pgx.Tx, t Tenant, env string, p EnvPatch) (EnvChanged, error) {
	r, err := s.lockEnv(ctx, tx, t, env)
	if err != nil {
		return EnvChanged{}, err
	}
	cur := s.settings(r)
	next := cur
	if err := p.apply(env, &next); err != nil {
		return EnvChanged{}, err
	}
	fields := p.changedFields()
	if len(fields) == 0 {
		return EnvChanged{EnvSettings: cur}, nil
	}
	var token string
	switch {
	case next.AuthMode == AuthToken && r.authMode != AuthToken:
		token = NewWebhookToken()
		now := s.now()
		r.webhookToken = sealedSecret{sealed: s.box.Seal([]byte(token), sealContext(credWebhookToken, t.ID, env)), setAt: &now}
		r.prevWebhookToken, r.prevWebhookTokenUntil = nil, nil
	case next.AuthMode != AuthToken:
		r.webhookToken = sealedSecret{}
		r.prevWebhookToken, r.prevWebhookTokenUntil = nil, nil
	}
	r.authMode, r.ipAllowList, r.callbacks = next.AuthMode, next.IPAllowList, next.Callbacks
	saved, err := s.saveEnv(ctx, tx, t, r, ActionEnvUpdate, map[string]any{
		"fields": fields, "authMode": r.authMode, "webhookTokenGenerated": token != "",
	})
	if err != nil {
		return EnvChanged{}, err
	}
	return EnvChanged{EnvSettings: saved, WebhookToken: token}, nil
}

// SetCredentials sets any of env's Pay1st credentials, sealed. Setting the
// Signing Key rotates it: the replaced key still verifies for the grace
// period (one previous key at a time; an earlier one is dropped). Setting a
// key to its current value changes nothing. Audited with the names of the
// fields set, never their values (environment.set_credentials).
func (s *Service) SetCredentials(ctx context.Context, t Tenant, env string, c Credentials) (EnvSettings, error) {
	var out EnvSettings
	err := s.inEnvTx(ctx, t, func(tx pgx.Tx) error {
		var err error
		out, err = s.SetCredentialsTx(ctx, tx, t, env, c)
		return err
	})
	return out, err
}

// SetCredentialsTx is SetCredentials inside the caller's transaction.
func (s *Service) SetCredentialsTx(ctx context.Context, tx pgx.Tx, t Tenant, env string, c Credentials) (EnvSettings, error) {
	if err := c.Validate(); err != nil {
		return EnvSettings{}, err
	}
	r, err := s.lockEnv(ctx, tx, t, env)
	if err != nil {
		return EnvSettings{}, err
	}
	if c.empty() {
		return s.settings(r), nil
	}
	now := s.now()
	var fields []string
	for _, f := range []struct {
		cred credential
		v    *string
		dst  *sealedSecret
	}{
		{credAPIKey, c.APIKey, &r.apiKey}, {credAPISecret, c.APISecret, &r.apiSecret},
		{credBasicAuthUsername, c.BasicAuthUsername, &r.basicUser}, {credBasicAuthPassword, c.BasicAuthPassword, &r.basicPass},
	} {
		if f.v == nil {
			continue
		}
		*f.dst = sealedSecret{sealed: s.box.Seal([]byte(*f.v), sealContext(f.cred, t.ID, env)), setAt: &now}
		fields = append(fields, f.cred.field)
	}
	rotated := false
	if c.SigningKey != nil {
		fields = append(fields, credSigningKey.field)
		if rotated, err = s.replaceSigningKey(&r, *c.SigningKey); err != nil {
			return EnvSettings{}, err
		}
	}
	return s.saveEnv(ctx, tx, t, r, ActionEnvCredentialsSet, map[string]any{"fields": fields, "signingKeyChanged": rotated})
}

// RotateSigningKey gives env a new random Signing Key, returned once; the
// replaced key still verifies for the grace period.
func (s *Service) RotateSigningKey(ctx context.Context, t Tenant, env string) (Rotated, error) {
	var out Rotated
	err := s.inEnvTx(ctx, t, func(tx pgx.Tx) error {
		var err error
		out, err = s.RotateSigningKeyTx(ctx, tx, t, env)
		return err
	})
	return out, err
}

// RotateSigningKeyTx is RotateSigningKey inside the caller's transaction.
func (s *Service) RotateSigningKeyTx(ctx context.Context, tx pgx.Tx, t Tenant, env string) (Rotated, error) {
	r, err := s.lockEnv(ctx, tx, t, env)
	if err != nil {
		return Rotated{}, err
	}
	key := NewSigningKey()
	if _, err := s.replaceSigningKey(&r, key); err != nil {
		return Rotated{}, err
	}
	saved, err := s.saveEnv(ctx, tx, t, r, ActionSigningKeyRotate, map[string]any{"graceSeconds": int64(s.grace / time.Second)})
	if err != nil {
		return Rotated{}, err
	}
	return Rotated{EnvSettings: saved, Secret: key}, nil
}

// RotateWebhookToken gives env a new webhook token, returned once; the
// replaced token still verifies for the grace period. Only in token mode
// (otherwise a FieldError on authMode).
func (s *Service) RotateWebhookToken(ctx context.Context, t Tenant, env string) (Rotated, error) {
	var out Rotated
	err := s.inEnvTx(ctx, t, func(tx pgx.Tx) error {
		var err error
		out, err = s.RotateWebhookTokenTx(ctx, tx, t, env)
		return err
	})
	return out, err
}

// RotateWebhookTokenTx is RotateWebhookToken inside the caller's transaction.
func (s *Service) RotateWebhookTokenTx(ctx context.Context, tx pgx.Tx, t Tenant, env string) (Rotated, error) {
	r, err := s.lockEnv(ctx, tx, t, env)
	if err != nil {
		return Rotated{}, err
	}
	if r.authMode != AuthToken {
		return Rotated{}, &FieldError{In: "environment", Field: "authMode", Problem: "is " + r.authMode + "; a webhook token exists only in token mode (set authMode to token first)"}
	}
	now := s.now()
	r.prevWebhookToken, r.prevWebhookTokenUntil = nil, nil
	if r.webhookToken.sealed != nil && s.grace > 0 {
		old, err := s.box.Open(r.webhookToken.sealed, sealContext(credWebhookToken, t.ID, env))
		if err != nil {
			return Rotated{}, fmt.Errorf("open webhook token of %s/%s: %w", t.PartnerCode, env, err)
		}
		until := now.Add(s.grace)
		r.prevWebhookToken, r.prevWebhookTokenUntil = s.box.Seal(old, sealContext(credPrevWebhookToken, t.ID, env)), &until
	}
	token := NewWebhookToken()
	r.webhookToken = sealedSecret{sealed: s.box.Seal([]byte(token), sealContext(credWebhookToken, t.ID, env)), setAt: &now}
	saved, err := s.saveEnv(ctx, tx, t, r, ActionWebhookTokenRotate, map[string]any{"graceSeconds": int64(s.grace / time.Second)})
	if err != nil {
		return Rotated{}, err
	}
	return Rotated{EnvSettings: saved, Secret: token}, nil
}

// replaceSigningKey makes key r's Signing Key. The replaced key becomes the
// previous one until now + grace (with no grace, it stops at once). It
// reports false, changing nothing, when key is already the current key.
func (s *Service) replaceSigningKey(r *envRow, key string) (bool, error) {
	now := s.now()
	if r.signingKey.sealed != nil {
		cur, err := s.box.Open(r.signingKey.sealed, sealContext(credSigningKey, r.tenantID, r.name))
		if err != nil {
			return false, fmt.Errorf("open signing key of %s/%s: %w", r.partnerCode, r.name, err)
		}
		if subtle.ConstantTimeCompare(cur, []byte(key)) == 1 {
			return false, nil
		}
		r.prevSigningKey, r.prevSigningKeyUntil = nil, nil
		if s.grace > 0 {
			until := now.Add(s.grace)
			r.prevSigningKey, r.prevSigningKeyUntil = s.box.Seal(cur, sealContext(credPrevSigningKey, r.tenantID, r.name)), &until
		}
	}
	r.signingKey = sealedSecret{sealed: s.box.Seal([]byte(key), sealContext(credSigningKey, r.tenantID, r.name)), setAt: &now}
	return true, nil
}
