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
)

// Key scopes: an operator key sees every tenant, a tenant key one.
const (
	ScopeOperator = "operator"
	ScopeTenant   = "tenant"
)

// Roles of a key: admins change things, viewers only read.
const (
	RoleAdmin  = "admin"
	RoleViewer = "viewer"
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

// An API key reads phk_<prefix>_<secret>: the prefix finds the row, the
// SHA-256 of the whole key is compared in constant time. Keys carry 256 bits
// of randomness, so a fast hash is enough (no password stretching needed).
var keyRE = regexp.MustCompile(`^phk_([a-z2-7]{8})_([A-Za-z0-9_-]{32,128})$`)

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

// Authenticate resolves a bearer key to its principal, or ErrUnauthorized.
func (s *Service) Authenticate(ctx context.Context, raw string) (Principal, error) {
	m := keyRE.FindStringSubmatch(raw)
	if m == nil {
		return Principal{}, ErrUnauthorized
	}
	p, hash, err := s.store.keyByPrefix(ctx, s.pool, m[1])
	if errors.Is(err, ErrNotFound) {
		return Principal{}, ErrUnauthorized
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	if subtle.ConstantTimeCompare(hash, hashKey(raw)) != 1 {
		return Principal{}, ErrUnauthorized
	}
	return p, nil
}

// EnsureOperatorKey registers raw as an operator key if it is not already;
// it lets a deployment bootstrap its first key from configuration.
func (s *Service) EnsureOperatorKey(ctx context.Context, raw, name string) error {
	m := keyRE.FindStringSubmatch(raw)
	if m == nil {
		return &FieldError{Field: "operatorKey", Problem: "must look like phk_<8 chars>_<32+ chars>"}
	}
	if err := s.store.insertKey(ctx, s.pool, m[1], hashKey(raw), ScopeOperator, 0, RoleAdmin, name); err != nil {
		return fmt.Errorf("register operator key: %w", err)
	}
	// The prefix may belong to another (or a revoked) key: only a live key
	// with a matching hash counts.
	if _, err := s.Authenticate(ctx, raw); err != nil {
		return fmt.Errorf("%w: this operator key's prefix belongs to another key, or the key was revoked", ErrConflict)
	}
	return nil
}

// CreateTenantKey issues a key that sees only tenant t, with role admin or
// viewer. The raw key is returned once; only its hash is stored.
func (s *Service) CreateTenantKey(ctx context.Context, t Tenant, role, name string) (string, error) {
	if role != RoleAdmin && role != RoleViewer {
		return "", &FieldError{Field: "role", Problem: "must be admin or viewer"}
	}
	raw := NewKey()
	m := keyRE.FindStringSubmatch(raw)
	if err := s.store.insertKey(ctx, s.pool, m[1], hashKey(raw), ScopeTenant, t.ID, role, name); err != nil {
		return "", fmt.Errorf("create tenant key: %w", err)
	}
	return raw, nil
}
