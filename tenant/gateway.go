package tenant

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// ErrCredentialsMissing says a tenant environment lacks Pay1st Gateway
// credentials partnerhub needs to call Pay1st for it. The wrapping error
// names which are missing, never any value.
var ErrCredentialsMissing = errors.New("tenant: Pay1st gateway credentials missing")

// GatewayCredentials are a tenant environment's Pay1st Gateway credentials,
// opened, for calling Pay1st on the tenant's behalf. They print redacted.
type GatewayCredentials struct {
	APIKey     string
	APISecret  string
	SigningKey string
}

// String hides everything but the API key (an identifier, not a secret).
func (c GatewayCredentials) String() string {
	return "tenant.GatewayCredentials{APIKey:" + c.APIKey + ", secrets redacted}"
}

// GoString is String, for %#v.
func (c GatewayCredentials) GoString() string { return c.String() }

// LogValue is String, for slog.
func (c GatewayCredentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

// GatewayCredentials opens the API key, API secret and Signing Key of a
// tenant environment, read fresh from the database (not the Env cache: a
// call to Pay1st is rare next to webhooks, and a just-set credential must be
// used at once). ErrNotFound for an unknown tenant or environment;
// ErrCredentialsMissing (wrapped, naming the missing fields) when any of
// the three is not set.
func (s *Service) GatewayCredentials(ctx context.Context, partnerCode, env string) (GatewayCredentials, error) {
	if !ValidPartnerCode(partnerCode) || !ValidEnv(env) {
		return GatewayCredentials{}, ErrNotFound
	}
	r, err := s.store.envByCode(ctx, s.pool, partnerCode, env)
	if err != nil {
		return GatewayCredentials{}, err
	}
	var out GatewayCredentials
	var missing []string
	for _, f := range []struct {
		cred   credential
		sealed []byte
		dst    *string
	}{
		{credAPIKey, r.apiKey.sealed, &out.APIKey},
		{credAPISecret, r.apiSecret.sealed, &out.APISecret},
		{credSigningKey, r.signingKey.sealed, &out.SigningKey},
	} {
		if f.sealed == nil {
			missing = append(missing, f.cred.field)
			continue
		}
		v, err := s.box.Open(f.sealed, sealContext(f.cred, r.tenantID, r.name))
		if err != nil {
			return GatewayCredentials{}, fmt.Errorf("open %s of %s/%s: %w", f.cred.field, partnerCode, env, err)
		}
		*f.dst = string(v)
	}
	if len(missing) > 0 {
		return GatewayCredentials{}, fmt.Errorf("%w in %s: %s (set them with the environment's credentials)",
			ErrCredentialsMissing, env, strings.Join(missing, ", "))
	}
	return out, nil
}

// SaleBundle is a bundle as an order needs it: its prices and whether its
// product is sold in a country.
type SaleBundle struct {
	Bundle
	ProductCountries []string
	FulfilmentMethod string
}

// MaxSaleSKUs bounds one BundlesForSale lookup.
const MaxSaleSKUs = 100

// BundlesForSale returns the bundles of env's catalog whose SKU is in skus,
// by SKU, with prices; SKUs not in the catalog are absent. Two queries.
func (s *Service) BundlesForSale(ctx context.Context, tenantID int64, env string, skus []string) (map[string]SaleBundle, error) {
	if err := checkScope(tenantID, env); err != nil {
		return nil, err
	}
	if len(skus) > MaxSaleSKUs {
		return nil, &FieldError{Field: "products", Problem: fmt.Sprintf("at most %d SKUs", MaxSaleSKUs)}
	}
	found, err := s.store.bundlesBySKU(ctx, s.pool, tenantID, env, skus)
	if err != nil {
		return nil, err
	}
	ptrs := make([]*Bundle, len(found))
	for i := range found {
		ptrs[i] = &found[i].Bundle
	}
	if err := s.store.loadPrices(ctx, s.pool, tenantID, env, ptrs); err != nil {
		return nil, err
	}
	out := make(map[string]SaleBundle, len(found))
	for _, b := range found {
		out[b.SKU] = b
	}
	return out, nil
}

// EnvRef names one tenant environment.
type EnvRef struct {
	TenantID int64
	Env      string
}

// EnvsWithCredentials lists the environments of active tenants whose
// Pay1st Gateway credentials are all set: those partnerhub can call Pay1st
// for (reconciliation asks about no others).
func (s *Service) EnvsWithCredentials(ctx context.Context) ([]EnvRef, error) {
	return s.store.envsWithCredentials(ctx, s.pool)
}
