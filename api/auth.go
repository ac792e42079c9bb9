package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/partnerhub/partnerhub/tenant"
)

const bearerScheme = "bearer"

// bearer is the security requirement of every /v1 operation.
var bearer = []map[string][]string{{bearerScheme: {}}}

// authenticate resolves the bearer key of operations that declare security
// and puts the principal in the request context (tenant.WithPrincipal), where
// handlers check it and services read it to audit who acted.
func authenticate(api huma.API, tenants *tenant.Service) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		if len(ctx.Operation().Security) == 0 {
			next(ctx)
			return
		}
		scheme, raw, ok := strings.Cut(ctx.Header("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
			ctx.SetHeader("WWW-Authenticate", `Bearer realm="partnerhub"`)
			_ = huma.WriteErr(api, ctx, http.StatusUnauthorized, "missing bearer API key")
			return
		}
		p, err := tenants.Authenticate(ctx.Context(), strings.TrimSpace(raw))
		if err != nil {
			status, msg := http.StatusUnauthorized, "invalid API key"
			if !errors.Is(err, tenant.ErrUnauthorized) {
				status, msg = http.StatusServiceUnavailable, "cannot check API key right now"
			}
			ctx.SetHeader("WWW-Authenticate", `Bearer realm="partnerhub"`)
			_ = huma.WriteErr(api, ctx, status, msg)
			return
		}
		next(huma.WithContext(ctx, tenant.WithPrincipal(ctx.Context(), p)))
	}
}

// principal is the caller; the zero Principal (which can do nothing) when
// the operation is not authenticated.
func principal(ctx context.Context) tenant.Principal {
	p, _ := tenant.PrincipalFrom(ctx)
	return p
}

// requireOperator refuses tenant keys on operator-only operations.
func requireOperator(ctx context.Context) error {
	if !principal(ctx).Operator() {
		return huma.Error403Forbidden("this operation needs an operator API key")
	}
	return nil
}

// visibleTenant returns the tenant named by partnerCode if the caller may see
// it; another tenant's is tenant.ErrNotFound, exactly like a missing one.
// Pass its error through problem().
func visibleTenant(ctx context.Context, tenants *tenant.Service, code string) (tenant.Tenant, error) {
	t, err := tenants.Get(ctx, code)
	if err != nil {
		return tenant.Tenant{}, err
	}
	if !principal(ctx).CanSee(t.ID) {
		return tenant.Tenant{}, tenant.ErrNotFound
	}
	return t, nil
}

// writableTenant is visibleTenant for writes: a key that sees the tenant but
// may only read it (a viewer) gets tenant.ErrForbidden (403).
func writableTenant(ctx context.Context, tenants *tenant.Service, code string) (tenant.Tenant, error) {
	t, err := visibleTenant(ctx, tenants, code)
	if err != nil {
		return t, err
	}
	if !principal(ctx).CanWrite(t.ID) {
		return tenant.Tenant{}, tenant.ErrForbidden
	}
	return t, nil
}

// operatorTenant is visibleTenant for operator-only operations on a tenant:
// the tenant's own keys get tenant.ErrForbidden, other tenants' keys
// tenant.ErrNotFound.
func operatorTenant(ctx context.Context, tenants *tenant.Service, code string) (tenant.Tenant, error) {
	t, err := visibleTenant(ctx, tenants, code)
	if err != nil {
		return t, err
	}
	if !principal(ctx).Operator() {
		return tenant.Tenant{}, tenant.ErrForbidden
	}
	return t, nil
}
