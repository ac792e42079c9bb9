package api

import "github.com/danielgtaylor/huma/v2"

// apiTags are the OpenAPI document's tags, one per resource, in the order
// documentation and generated clients list them. Every operation's tag must
// be here (TestEveryOperationTagIsDefined): generators and linters read the
// descriptions.
var apiTags = []*huma.Tag{
	{Name: "Health", Description: "Liveness and readiness probes for load balancers and orchestrators; no key needed."},
	{Name: "Tenants", Description: "Game studios connected to Pay1st, one per partnerCode. Operators create them; a tenant key sees only its own."},
	{Name: "API keys", Description: "Operator and tenant API keys (admin or viewer). The key itself is shown once, when created."},
	{Name: "Audit log", Description: "Who changed what, for each tenant: every write to the management API is recorded."},
	{Name: "Environments", Description: "Each tenant's staging and production environments: Pay1st credentials, signing key, webhook token and the integration URLs to give Pay1st."},
	{Name: "Products", Description: "A tenant's catalog of single items, per environment, that Pay1st offers to its players."},
	{Name: "Bundles", Description: "Groups of products sold together, per environment."},
	{Name: "Onboarding", Description: "The go-live checklist, staging test transactions and promotion from staging to production."},
	{Name: "Plugins", Description: "A tenant's game-server plugins: upload an executable, activate it for an environment, set its settings."},
	{Name: "Orders", Description: "Orders partnerhub created with Pay1st's Gateway API on a tenant's behalf, with their checkout URLs."},
	{Name: "Payments", Description: "Payments as Pay1st reported them through webhooks, with each payment's state history."},
	{Name: "Deliveries", Description: "Every webhook Pay1st delivered, accepted or rejected, for tracing what arrived and why it was refused."},
	{Name: "Fulfilments", Description: "Fulfilment records and attempts (crediting the player through the plugin), and retrying failed ones."},
	{Name: "Pay1st webhooks", Description: "The endpoints Pay1st calls for each tenant (signed by Pay1st, not by an API key). Documented for integrators; not for generated clients."},
}
