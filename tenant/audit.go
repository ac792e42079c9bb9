package tenant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The audit log answers "who changed what, when, for which tenant". Entries
// are written by the write itself, in its transaction, so a change and its
// entry commit or vanish together.

// Limits of an audit entry.
const (
	maxAuditTarget = 200
	// maxAuditDetails bounds an entry's details as JSON.
	maxAuditDetails = 8 << 10
)

// ActorSystem is the actor scope of writes made without an API key (the
// CLI, dev seeding, jobs).
const ActorSystem = "system"

// auditActionRE is the shape of an action: "<resource>.<verb>", e.g.
// "tenant.suspend", "api_key.revoke", "environment.update".
var auditActionRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,48}\.[a-z][a-z0-9_]{0,48}$`)

// secretDetailKeys are detail keys that name a secret; AuditTx refuses them
// at any depth (compared case-insensitively, ignoring '_' and '-'). Record
// that a secret changed ("fields": ["apiSecret"]), never its value.
var secretDetailKeys = map[string]bool{
	"secret": true, "password": true, "token": true, "apikey": true, "apisecret": true,
	"signingkey": true, "rawkey": true, "key": true, "privatekey": true, "credential": true,
	"credentials": true, "basicauthpassword": true, "authorization": true,
}

// ErrAuditSecret refuses audit details that look like they carry a secret.
var ErrAuditSecret = errors.New("tenant: audit details must not carry secrets")

// AuditEntry is one management write.
type AuditEntry struct {
	ID             int64
	At             time.Time
	ActorScope     string // operator, tenant or system
	ActorKeyID     int64  // 0 for the system
	ActorKeyPrefix string // "" for the system, or when the key's row is gone
	TenantID       int64  // 0 when the write concerns no tenant
	PartnerCode    string
	Action         string
	Target         string
	Details        map[string]any
}

// AuditFilter selects a page of the log, newest first: one tenant's entries
// (TenantID), or every entry (TenantID 0; operators only).
type AuditFilter struct {
	TenantID int64
	Limit    int
	Cursor   string
}

// AuditPage is one page of entries, newest first; NextCursor is "" on the
// last.
type AuditPage struct {
	Entries    []AuditEntry
	NextCursor string
}

// AuditTx records a management write in tx, with the principal in ctx
// (WithPrincipal) as its actor, or "system" when there is none.
//
// Call it in EVERY management write transaction, after the write succeeded,
// with the transaction the write used:
//
//	if err := s.AuditTx(ctx, tx, "environment.update", t.ID, "environment:"+env,
//		map[string]any{"fields": []string{"authMode"}}); err != nil {
//		return err
//	}
//
// action is "<resource>.<verb>" in snake_case (tenant.create, api_key.revoke);
// tenantID is the tenant concerned (0 for none: the entry is then visible to
// operators only); target names the object (≤ 200 bytes, e.g.
// "tenant:acme", "bundle:SKU-1"); details (may be nil) say what changed.
//
// details must NEVER contain a secret (credentials, keys, passwords, signing
// keys), not even hashed or truncated: say which secret changed, not its
// value. As a safety net AuditTx refuses (ErrAuditSecret) keys that name a
// secret (secret, password, token, apiKey, apiSecret, signingKey, key, ...)
// and values that look like partnerhub API keys. Details are bounded to
// 8 KiB of JSON.
func (s *Service) AuditTx(ctx context.Context, tx pgx.Tx, action string, tenantID int64, target string, details map[string]any) error {
	if !auditActionRE.MatchString(action) {
		return fmt.Errorf("audit: bad action %q", action)
	}
	if len(target) > maxAuditTarget {
		return fmt.Errorf("audit %s: target longer than %d bytes", action, maxAuditTarget)
	}
	if details == nil {
		details = map[string]any{}
	}
	if err := checkNoSecrets(details); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	raw, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("audit %s: details: %w", action, err)
	}
	if len(raw) > maxAuditDetails {
		return fmt.Errorf("audit %s: details larger than %d bytes", action, maxAuditDetails)
	}
	e := auditRow{scope: ActorSystem, tenantID: tenantID, action: action, target: target, details: raw}
	if p, ok := PrincipalFrom(ctx); ok {
		e.scope, e.keyID = p.Scope, p.KeyID
	}
	return s.store.insertAudit(ctx, tx, e)
}

// checkNoSecrets walks v looking for secret-named keys and API-key values.
func checkNoSecrets(v any) error {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			norm := strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(k))
			if secretDetailKeys[norm] {
				return fmt.Errorf("%w: key %q", ErrAuditSecret, k)
			}
			if err := checkNoSecrets(x); err != nil {
				return err
			}
		}
	case []any:
		for _, x := range v {
			if err := checkNoSecrets(x); err != nil {
				return err
			}
		}
	case []string:
		for _, x := range v {
			if err := checkNoSecrets(x); err != nil {
				return err
			}
		}
	case string:
		if strings.Contains(v, "phk_") && keyInTextRE.MatchString(v) {
			return fmt.Errorf("%w: a value looks like an API key", ErrAuditSecret)
		}
	}
	return nil
}

var keyInTextRE = regexp.MustCompile(`phk_[a-z2-7]{8}_[A-Za-z0-9_-]{32,}`)

// ListAudit returns a page of the log, newest first. Callers decide who may
// read what: a tenant key only its own tenant's entries.
func (s *Service) ListAudit(ctx context.Context, f AuditFilter) (AuditPage, error) {
	before, err := DecodeCursor(f.Cursor)
	if err != nil {
		return AuditPage{}, err
	}
	limit := PageLimit(f.Limit)
	entries, err := s.store.listAudit(ctx, s.pool, f.TenantID, before, limit+1)
	if err != nil {
		return AuditPage{}, err
	}
	page := AuditPage{Entries: entries}
	if len(entries) > limit {
		page.Entries = entries[:limit]
		page.NextCursor = EncodeCursor(entries[limit-1].ID)
	}
	return page, nil
}
