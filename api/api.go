// Package api is partnerhub's HTTP surface: the Huma management API under
// /v1 (RFC 9457 problems), the Pay1st-facing endpoints under /pay1st (Pay1st's
// error body), health probes and the OpenAPI document. Handlers translate
// HTTP to service calls and hold no business logic or SQL.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric"

	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/plugins"
	"github.com/partnerhub/partnerhub/stagingtest"
	"github.com/partnerhub/partnerhub/tenant"
)

// Version is the management API's version in the OpenAPI document. It
// changes with the contract, not with each build.
const Version = "0.1.0"

// Deps are the services behind the API. A zero Deps is enough to build the
// OpenAPI document.
type Deps struct {
	Tenants  *tenant.Service
	Payments *payment.Service
	// Ingest records accepted payment events; Payments when nil. serve sets
	// it to a payment.Batcher so concurrent webhooks share commits.
	Ingest EventIngester
	// Ready reports whether the process can serve (database reachable).
	Ready           func(ctx context.Context) error
	Logger          *slog.Logger
	MaxBodyBytes    int64
	SignatureWindow time.Duration
	// Now is the clock for signature timestamps; time.Now when nil.
	Now func() time.Time
	// PublicURL is the base URL Pay1st and browsers reach partnerhub at
	// (PARTNERHUB_PUBLIC_URL); integration URLs are built from it.
	PublicURL string
	// Plugins and PluginHost answer the User Info Webhook through each
	// environment's active plugin, within UserInfoTimeout
	// (DefaultUserInfoTimeout when 0). Without them it answers 503, and
	// plugin management (api/plugins.go) answers 503 too.
	Plugins         *plugins.Registry
	PluginHost      PluginHost
	UserInfoTimeout time.Duration
	// PluginLimits are the plugin upload and activation routes' own
	// deadlines (defaults when zero).
	PluginLimits PluginLimits
	// RateLimitPerTenant is the requests per second each partnerCode may
	// make to the Pay1st-facing endpoints, with bursts of RateLimitBurst;
	// 0 means no limit.
	RateLimitPerTenant float64
	RateLimitBurst     int
	// TestTransactions runs staging test transactions; without it they
	// answer 503.
	TestTransactions *stagingtest.Service
	// MeterProvider receives the Pay1st-facing endpoints' metrics
	// (metrics.go); none when nil.
	MeterProvider metric.MeterProvider
}

// New returns the whole HTTP handler, traced with OpenTelemetry server spans.
func New(deps Deps) http.Handler {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	newAPI(mux, deps)
	return otelhttp.NewHandler(mux, "partnerhub",
		// Pay1st's requests start a trace of their own (one per payment
		// event), linked to any trace context they carry: an outside
		// sender neither joins our traces nor turns sampling off.
		otelhttp.WithPublicEndpointFn(func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/pay1st/") }),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			// The route, not the URL: one span name per endpoint, not per tenant.
			switch {
			case r.Pattern == "":
				return r.Method
			case strings.Contains(r.Pattern, " "):
				return r.Pattern
			default:
				return r.Method + " " + r.Pattern
			}
		}))
}

func newAPI(mux *http.ServeMux, deps Deps) huma.API {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	cfg := huma.DefaultConfig("partnerhub", Version)
	// No $schema links in response bodies: generated clients don't want them.
	cfg.CreateHooks = nil
	cfg.Info.Description = "Manage the game studios (tenants) partnerhub connects to Carry1st's Pay1st, " +
		"and the endpoints Pay1st calls for them."
	cfg.Info.Contact = &huma.Contact{Name: "partnerhub", URL: "https://github.com/partnerhub/partnerhub"}
	// A placeholder: the dev server's address. Clients take the real one as
	// a parameter; a path here would prefix every route (Huma reads it).
	cfg.Servers = []*huma.Server{{URL: "http://localhost:8080", Description: "A local server (`partnerhub dev`); use your deployment's URL."}}
	cfg.Tags = apiTags
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		bearerScheme: {Type: "http", Scheme: "bearer", Description: "An operator or tenant API key: `Authorization: Bearer phk_...`."},
	}
	api := humago.New(mux, cfg)
	api.UseMiddleware(authenticate(api, deps.Tenants))

	(&HealthHandler{ready: deps.Ready}).Register(api)
	(&TenantHandler{tenants: deps.Tenants, logger: deps.Logger}).Register(api)
	(&KeyHandler{tenants: deps.Tenants, logger: deps.Logger}).Register(api)
	(&AuditHandler{tenants: deps.Tenants, logger: deps.Logger}).Register(api)
	(&CatalogHandler{tenants: deps.Tenants, logger: deps.Logger}).Register(api)
	(&OnboardingHandler{tenants: deps.Tenants, logger: deps.Logger}).Register(api)
	(&PaymentHandler{tenants: deps.Tenants, payments: deps.Payments, logger: deps.Logger}).Register(api)
	(&DeliveryHandler{tenants: deps.Tenants, payments: deps.Payments, logger: deps.Logger}).Register(api)
	(&FulfilmentHandler{tenants: deps.Tenants, payments: deps.Payments, logger: deps.Logger}).Register(api)
	(&OrderHandler{tenants: deps.Tenants, payments: deps.Payments, logger: deps.Logger}).Register(api)
	(&TestTransactionHandler{tenants: deps.Tenants, tests: deps.TestTransactions, logger: deps.Logger}).Register(api)
	(&EnvironmentHandler{tenants: deps.Tenants, logger: deps.Logger, publicURL: deps.PublicURL}).Register(api)
	// A nil *plugins.Registry must stay a nil interface for the webhooks.
	var registry PluginRegistry
	if deps.Plugins != nil {
		registry = deps.Plugins
	}
	(&PluginHandler{tenants: deps.Tenants, plugins: deps.Plugins, host: deps.PluginHost, limits: deps.PluginLimits,
		logger: deps.Logger}).Register(api)
	(&WebhookHandler{
		tenants: deps.Tenants, payments: deps.Payments, ingest: deps.Ingest, logger: deps.Logger,
		maxBody: deps.MaxBodyBytes, window: deps.SignatureWindow, now: deps.Now,
		plugins: registry, host: deps.PluginHost, userInfoTimeout: deps.UserInfoTimeout,
		limiter: newRateLimiter(deps.RateLimitPerTenant, deps.RateLimitBurst, deps.Now),
		metrics: newWebhookMetrics(deps.MeterProvider),
	}).Register(api, mux)
	addSchemaExamples(api.OpenAPI()) // last: every schema is registered (examples.go)
	return api
}

// OpenAPI returns the OpenAPI 3.1 document as YAML, as served at /openapi.yaml.
func OpenAPI() ([]byte, error) {
	api := newAPI(http.NewServeMux(), Deps{})
	return api.OpenAPI().YAML()
}
