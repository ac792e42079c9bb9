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

type principalKey struct{}

// authenticate resolves the bearer key of operations that declare security
// and puts the principal in the request context.
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
		next(huma.WithValue(ctx, principalKey{}, p))
	}
}

func principal(ctx context.Context) tenant.Principal {
	p, _ := ctx.Value(principalKey{}).(tenant.Principal)
	return p
}

// requireOperator refuses tenant keys on operator-only operations.
func requireOperator(ctx context.Context) error {
	if !principal(ctx).Operator() {
		return huma.Error403Forbidden("this operation needs an operator API key")
	}
	return nil
}
