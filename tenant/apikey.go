package tenant

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/internal/db"
)

// Key scopes: an operator key sees every tenant, a tenant key one.
const (
	ScopeOperator = "operator"
	ScopeTenant   = "tenant"
)

// Roles of a key: admins change things, viewers only read. Operator keys
// are always admins.
const (
	RoleAdmin  = "admin"
	RoleViewer = "viewer"
)

// Limits on keys.
const (
	// MaxKeyNameLen bounds a key's name.
	MaxKeyNameLen = 100
	// MaxLiveKeys bounds the unrevoked keys of one tenant, and of the
	// operators: a leaked automation cannot mint keys without end.
	MaxLiveKeys = 100
	// lastUsedEvery throttles the last_used_at write to one per key per
	// interval: a busy key does not write on every request.
	lastUsedEvery = time.Minute
	// lastUsedTimeout bounds that write; it never fails the request.
	lastUsedTimeout = time.Second
)

// Errors of key management.
var (
	// ErrLastOperatorKey refuses to revoke the last live operator key, which
	// would leave nobody able to manage partnerhub.
	ErrLastOperatorKey = errors.New("tenant: cannot revoke the last live operator key")
	// ErrKeyLimit refuses a key past MaxLiveKeys.
	ErrKeyLimit = errors.New("tenant: too many live API keys; revoke one first")
	// ErrForbidden refuses a write to a key that may only read (a viewer),
	// or an operator-only action to a tenant key that can see the tenant.
	// A tenant that is not the caller's is ErrNotFound, never this.
	ErrForbidden = errors.New("tenant: this API key may not do that")
)

// Principal is who an API key belongs to.
type Principal struct {
	KeyID    int64
	Scope    string
	TenantID int64 // 0 for operators
	Role     string
}

// Operator reports whether the principal sees every tenant.
func (p Principal) Operator() bool { return p.Scope == ScopeOperator }

// CanSee reports whether the principal may see tenantID's resources.
func (p Principal) CanSee(tenantID int64) bool { return p.Operator() || p.TenantID == tenantID }

// CanWrite reports whether the principal may change tenantID's resources:
// operators, and the tenant's own admin keys.
func (p Principal) CanWrite(tenantID int64) bool {
	return p.Operator() || (p.Scope == ScopeTenant && p.TenantID == tenantID && p.Role == RoleAdmin)
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p: the API puts the caller there, and
// services read it to record who acted (AuditTx).
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal in ctx; false when there is none (the
// CLI, dev seeding, jobs: "system" in the audit log).
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// An API key reads phk_<prefix>_<secret>: the prefix finds the row, the
// SHA-256 of the whole key is compared in constant time. Keys carry 256 bits
// of randomness, so a fast hash is enough (no password stretching needed).
var keyRE = regexp.MustCompile(`^phk_([a-z2-7]{8})_([A-Za-z0-9_-]{32,128})$`)

// KeyPrefixPattern is the shape of a key's public prefix, which names it in
// the API.
const KeyPrefixPattern = `^[a-z2-7]{8}$`

var prefixRE = regexp.MustCompile(KeyPrefixPattern)

// ValidKeyFormat reports whether raw has the shape of a partnerhub API key.
func ValidKeyFormat(raw string) bool { return keyRE.MatchString(raw) }

// NewKey returns a fresh random API key.
func NewKey() string {
	p := make([]byte, 5)
	s := make([]byte, 32)
	_, _ = rand.Read(p)
	_, _ = rand.Read(s)
	prefix := strings.ToLower(base32.StdEncoding.EncodeToString(p))
	return "phk_" + prefix + "_" + base64.RawURLEncoding.EncodeToString(s)
}

func hashKey(raw string) []byte {
	h := sha256.Sum256([]byte(raw))
	return h[:]
}

// APIKey is a key's metadata: never its secret nor its hash.
type APIKey struct {
	ID         int64
	Prefix     string
	Name       string
	Scope      string
	TenantID   int64 // 0 for operator keys
	Role       string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// NewKeyParams describe a key to issue.
type NewKeyParams struct {
	Scope    string
	TenantID int64  // the tenant of a tenant key; 0 for operator keys
	Role     string // admin or viewer; operator keys are admin ("" means admin)
	Name     string
}

// Validate checks the params before they reach the database.
func (p *NewKeyParams) Validate() error {
	if p.Role == "" {
		p.Role = RoleAdmin
	}
	switch {
	case p.Scope == ScopeOperator && p.TenantID != 0, p.Scope == ScopeTenant && p.TenantID <= 0,
		p.Scope != ScopeOperator && p.Scope != ScopeTenant:
		return &FieldError{Field: "scope", Problem: "must be operator (no tenant) or tenant (with one)"}
	case p.Role != RoleAdmin && p.Role != RoleViewer:
		return &FieldError{Field: "role", Problem: "must be admin or viewer"}
	case p.Scope == ScopeOperator && p.Role != RoleAdmin:
		return &FieldError{Field: "role", Problem: "operator keys are always admin"}
	case strings.TrimSpace(p.Name) == "" || len(p.Name) > MaxKeyNameLen:
		return &FieldError{Field: "name", Problem: fmt.Sprintf("must be 1 to %d characters", MaxKeyNameLen)}
	}
	return nil
}

// CreatedKey is a new key with its raw value, shown to its creator once.
type CreatedKey struct {
	APIKey
	Raw string
}

// KeyFilter selects a page of keys: the operators' (ScopeOperator) or one
// tenant's (ScopeTenant with TenantID), revoked ones included.
type KeyFilter struct {
	Scope    string
	TenantID int64
	Limit    int
	Cursor   string
}

// KeyPage is one page of keys in id order; NextCursor is "" on the last.
type KeyPage struct {
	Keys       []APIKey
	NextCursor string
}

// Authenticate resolves a bearer key to its principal, or ErrUnauthorized.
// Revoked keys fail at once: nothing is cached. It records when the key was
// last used, at most once a minute, without failing the request if that
// write fails.
func (s *Service) Authenticate(ctx context.Context, raw string) (Principal, error) {
	m := keyRE.FindStringSubmatch(raw)
	if m == nil {
		return Principal{}, ErrUnauthorized
	}
	k, hash, err := s.store.keyByPrefix(ctx, s.pool, m[1])
	if errors.Is(err, ErrNotFound) {
		return Principal{}, ErrUnauthorized
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	if subtle.ConstantTimeCompare(hash, hashKey(raw)) != 1 {
		return Principal{}, ErrUnauthorized
	}
	if k.lastUsedAt == nil || time.Since(*k.lastUsedAt) >= lastUsedEvery {
		s.touchKey(ctx, k.KeyID)
	}
	return k.Principal, nil
}

// touchKey records a key's use; failures are logged, never returned.
func (s *Service) touchKey(ctx context.Context, keyID int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lastUsedTimeout)
	defer cancel()
	if err := s.store.touchKey(ctx, s.pool, keyID, lastUsedEvery); err != nil {
		s.logger.WarnContext(ctx, "cannot record API key use", "key_id", keyID, "err", err)
	}
}

// EnsureOperatorKey registers raw as an operator key if it is not already;
// it lets a deployment bootstrap its first key from configuration. A key it
// adds is audited (api_key.create).
func (s *Service) EnsureOperatorKey(ctx context.Context, raw, name string) error {
	m := keyRE.FindStringSubmatch(raw)
	if m == nil {
		return &FieldError{Field: "operatorKey", Problem: "must look like phk_<8 chars>_<32+ chars>"}
	}
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		added, err := s.store.insertKeyIfAbsent(ctx, tx, m[1], hashKey(raw), ScopeOperator, 0, RoleAdmin, name)
		if err != nil || !added {
			return err
		}
		return s.AuditTx(ctx, tx, "api_key.create", 0, "api_key:"+m[1],
			map[string]any{"scope": ScopeOperator, "role": RoleAdmin, "name": name, "from": "configuration"})
	})
	if err != nil {
		return fmt.Errorf("register operator key: %w", err)
	}
	// The prefix may belong to another (or a revoked) key: only a live key
	// with a matching hash counts.
	if _, err := s.Authenticate(ctx, raw); err != nil {
		if revoked, rerr := s.store.revokedKey(ctx, s.pool, m[1], hashKey(raw)); rerr == nil && revoked {
			return ErrKeyRevoked
		}
		return fmt.Errorf("%w: this operator key's prefix belongs to another key", ErrConflict)
	}
	return nil
}

// ErrKeyRevoked means a configured bootstrap key was revoked through the
// API: it stays revoked, and the process should say so and carry on.
var ErrKeyRevoked = errors.New("tenant: the configured operator key was revoked")

// CreateTenantKey issues a key that sees only tenant t, with role admin or
// viewer. The raw key is returned once; only its hash is stored.
func (s *Service) CreateTenantKey(ctx context.Context, t Tenant, role, name string) (string, error) {
	c, err := s.CreateKey(ctx, NewKeyParams{Scope: ScopeTenant, TenantID: t.ID, Role: role, Name: name})
	return c.Raw, err
}

// CreateKey issues a key and audits it (api_key.create). The raw key is in
// the result once; only its SHA-256 is stored.
func (s *Service) CreateKey(ctx context.Context, p NewKeyParams) (CreatedKey, error) {
	var c CreatedKey
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		c, err = s.CreateKeyTx(ctx, tx, p)
		return err
	})
	return c, err
}

// CreateKeyTx is CreateKey inside the caller's transaction.
func (s *Service) CreateKeyTx(ctx context.Context, tx pgx.Tx, p NewKeyParams) (CreatedKey, error) {
	if err := p.Validate(); err != nil {
		return CreatedKey{}, err
	}
	// Concurrent creates of one scope count one at a time.
	if err := s.store.lock(ctx, tx, "api_keys:"+p.Scope, p.TenantID); err != nil {
		return CreatedKey{}, err
	}
	live, err := s.store.countLiveKeys(ctx, tx, p.Scope, p.TenantID)
	if err != nil {
		return CreatedKey{}, err
	}
	if live >= MaxLiveKeys {
		return CreatedKey{}, ErrKeyLimit
	}
	raw := NewKey()
	prefix := keyRE.FindStringSubmatch(raw)[1]
	k, err := s.store.insertKey(ctx, tx, prefix, hashKey(raw), p)
	if err != nil {
		return CreatedKey{}, err
	}
	if err := s.AuditTx(ctx, tx, "api_key.create", p.TenantID, "api_key:"+k.Prefix,
		map[string]any{"scope": k.Scope, "role": k.Role, "name": k.Name}); err != nil {
		return CreatedKey{}, err
	}
	return CreatedKey{APIKey: k, Raw: raw}, nil
}

// ListKeys returns a page of the keys f selects, in id order.
func (s *Service) ListKeys(ctx context.Context, f KeyFilter) (KeyPage, error) {
	after, err := DecodeCursor(f.Cursor)
	if err != nil {
		return KeyPage{}, err
	}
	if f.Scope == ScopeOperator {
		f.TenantID = 0
	} else if f.Scope != ScopeTenant || f.TenantID <= 0 {
		return KeyPage{}, &FieldError{Field: "scope", Problem: "must be operator, or tenant with a tenant"}
	}
	limit := PageLimit(f.Limit)
	keys, err := s.store.listKeys(ctx, s.pool, f.Scope, f.TenantID, after, limit+1)
	if err != nil {
		return KeyPage{}, err
	}
	page := KeyPage{Keys: keys}
	if len(keys) > limit {
		page.Keys = keys[:limit]
		page.NextCursor = EncodeCursor(keys[limit-1].ID)
	}
	return page, nil
}

// RevokeKey revokes the key with prefix among the operators' keys
// (ScopeOperator) or tenantID's (ScopeTenant); a key outside that set is
// ErrNotFound. Revoking is idempotent: a revoked key is returned as it is,
// with its first revocation time, and audited once. A key may revoke itself;
// the last live operator key cannot be revoked (ErrLastOperatorKey).
func (s *Service) RevokeKey(ctx context.Context, scope string, tenantID int64, prefix string) (APIKey, error) {
	var k APIKey
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		k, err = s.RevokeKeyTx(ctx, tx, scope, tenantID, prefix)
		return err
	})
	return k, err
}

// RevokeKeyTx is RevokeKey inside the caller's transaction.
func (s *Service) RevokeKeyTx(ctx context.Context, tx pgx.Tx, scope string, tenantID int64, prefix string) (APIKey, error) {
	if !prefixRE.MatchString(prefix) || (scope != ScopeOperator && scope != ScopeTenant) {
		return APIKey{}, ErrNotFound
	}
	live := 0
	if scope == ScopeOperator {
		tenantID = 0
		// Lock every live operator key first (in id order, before the target
		// row), so two concurrent revocations of the last two cannot both
		// pass, nor deadlock.
		var err error
		if live, err = s.store.lockLiveOperatorKeys(ctx, tx); err != nil {
			return APIKey{}, err
		}
	}
	k, err := s.store.keyForUpdate(ctx, tx, scope, tenantID, prefix)
	if err != nil {
		return APIKey{}, err
	}
	if k.RevokedAt != nil {
		return k, nil
	}
	if scope == ScopeOperator && live <= 1 {
		return APIKey{}, ErrLastOperatorKey
	}
	if k, err = s.store.revokeKey(ctx, tx, k.ID); err != nil {
		return APIKey{}, err
	}
	if err := s.AuditTx(ctx, tx, "api_key.revoke", tenantID, "api_key:"+k.Prefix,
		map[string]any{"scope": k.Scope, "role": k.Role, "name": k.Name}); err != nil {
		return APIKey{}, err
	}
	return k, nil
}
