package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/partnerhub/partnerhub/tenant"
)

// AuditHandler serves the audit log: who changed what, when, for which
// tenant. Operators read all of it; a tenant's keys read its own entries.
type AuditHandler struct {
	tenants *tenant.Service
	logger  *slog.Logger
}

// AuditActor is who made a change.
type AuditActor struct {
	Scope     string `json:"scope" enum:"operator,tenant,system" example:"operator" doc:"system: a change made without an API key (command line, dev seeding)."`
	KeyPrefix string `json:"keyPrefix,omitempty" example:"k3jq7x2m" doc:"The prefix of the API key that acted; absent for the system."`
}

// AuditEntry is one management write.
type AuditEntry struct {
	ID          int64          `json:"id" example:"731" doc:"Increases with time."`
	At          time.Time      `json:"at" doc:"When the change was committed."`
	Actor       AuditActor     `json:"actor"`
	PartnerCode string         `json:"partnerCode,omitempty" example:"acme-games" doc:"The tenant concerned; absent for changes that concern none (operator keys)."`
	Action      string         `json:"action" example:"tenant.suspend" doc:"<resource>.<verb>, e.g. tenant.create, tenant.update, tenant.suspend, api_key.create, api_key.revoke."`
	Target      string         `json:"target" example:"tenant:acme-games" doc:"The object changed."`
	Details     map[string]any `json:"details" doc:"What changed. Never a secret: a changed credential is named, not shown."`
}

func auditOut(e tenant.AuditEntry) AuditEntry {
	return AuditEntry{ID: e.ID, At: e.At, Actor: AuditActor{Scope: e.ActorScope, KeyPrefix: e.ActorKeyPrefix},
		PartnerCode: e.PartnerCode, Action: e.Action, Target: e.Target, Details: e.Details}
}

// AuditList is a page of entries, newest first.
type AuditList struct {
	Items      []AuditEntry `json:"items" doc:"Entries, newest first."`
	NextCursor string       `json:"nextCursor,omitempty" example:"NzMx" doc:"Pass as cursor for the next (older) page; absent on the last page."`
}

// AuditListOutput is the answer of the audit log operations.
type AuditListOutput struct {
	Link string `header:"Link" doc:"The next page, as <url>; rel=\"next\"; absent on the last page."`
	Body AuditList
}

// ListAuditInput filters list-audit-log.
type ListAuditInput struct {
	PartnerCode string `query:"partnerCode" maxLength:"64" example:"acme-games" doc:"Only this tenant's entries; all entries when omitted. An unknown tenant is 404."`
	PageParams
}

// ListTenantAuditInput pages list-tenant-audit-log.
type ListTenantAuditInput struct {
	PartnerCode string `path:"partnerCode" maxLength:"64" example:"acme-games" doc:"The tenant's Pay1st partnerCode."`
	PageParams
}

// Register adds the audit log operations to api.
func (h *AuditHandler) Register(api huma.API) {
	tags := []string{"Audit log"}
	huma.Register(api, huma.Operation{
		OperationID: "list-audit-log", Method: http.MethodGet, Path: "/v1/audit-log", Tags: tags,
		Summary:     "List the audit log",
		Description: "Every management write, newest first, optionally of one tenant. Operator keys only.",
		Security:    bearer,
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, h.list)
	huma.Register(api, huma.Operation{
		OperationID: "list-tenant-audit-log", Method: http.MethodGet, Path: "/v1/tenants/{partnerCode}/audit-log", Tags: tags,
		Summary:     "List a tenant's audit log",
		Description: "The writes concerning this tenant, newest first, whoever made them. Operators and the tenant's own keys.",
		Security:    bearer,
		Errors:      []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, h.listTenant)
}

func (h *AuditHandler) list(ctx context.Context, in *ListAuditInput) (*AuditListOutput, error) {
	if err := requireOperator(ctx); err != nil {
		return nil, err
	}
	var tenantID int64
	if in.PartnerCode != "" {
		t, err := h.tenants.Get(ctx, in.PartnerCode)
		if err != nil {
			return nil, problem(ctx, h.logger, err)
		}
		tenantID = t.ID
	}
	return h.page(ctx, tenantID, in.PageParams, "/v1/audit-log", url.Values{"partnerCode": {in.PartnerCode}})
}

func (h *AuditHandler) listTenant(ctx context.Context, in *ListTenantAuditInput) (*AuditListOutput, error) {
	t, err := visibleTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return h.page(ctx, t.ID, in.PageParams, "/v1/tenants/"+t.PartnerCode+"/audit-log", nil)
}

func (h *AuditHandler) page(ctx context.Context, tenantID int64, pp PageParams, path string, q url.Values) (*AuditListOutput, error) {
	page, err := h.tenants.ListAudit(ctx, tenant.AuditFilter{TenantID: tenantID, Limit: pp.Limit, Cursor: pp.Cursor})
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	out := &AuditListOutput{Body: AuditList{Items: make([]AuditEntry, 0, len(page.Entries)), NextCursor: page.NextCursor}}
	for _, e := range page.Entries {
		out.Body.Items = append(out.Body.Items, auditOut(e))
	}
	out.Link = nextLink(path, q, tenant.PageLimit(pp.Limit), page.NextCursor)
	return out, nil
}
