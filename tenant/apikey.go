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

	"github.com/jackc/pgx/v5"
)

// Key scopes: an operator key sees every tenant, a tenant key one.
const (
	ScopeOperator = "operator"
	ScopeTenant   = "tenant"
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
	var p Principal
	var tenantID *int64
	var hash []byte
	err := s.pool.QueryRow(ctx, `SELECT id, scope, tenant_id, role, secret_hash FROM api_keys WHERE prefix = $1 AND revoked_at IS NULL`, m[1]).
		Scan(&p.KeyID, &p.Scope, &tenantID, &p.Role, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return Principal{}, ErrUnauthorized
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	if subtle.ConstantTimeCompare(hash, hashKey(raw)) != 1 {
		return Principal{}, ErrUnauthorized
	}
	if tenantID != nil {
		p.TenantID = *tenantID
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
	if _, err := s.pool.Exec(ctx, `INSERT INTO api_keys (prefix, secret_hash, scope, name) VALUES ($1, $2, 'operator', $3)
		ON CONFLICT (prefix) DO NOTHING`, m[1], hashKey(raw), name); err != nil {
		return fmt.Errorf("register operator key: %w", err)
	}
	// The prefix may belong to another key: only a matching hash counts.
	if _, err := s.Authenticate(ctx, raw); err != nil {
		return fmt.Errorf("%w: operator key prefix already used by another key", ErrConflict)
	}
	return nil
}
