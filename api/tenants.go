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

// TenantHandler serves /v1/tenants: the tenant lifecycle.
type TenantHandler struct {
	tenants *tenant.Service
	logger  *slog.Logger
}

// Tenant is a studio as the API shows it.
type Tenant struct {
	PartnerCode  string    `json:"partnerCode" example:"acme-games" doc:"The studio's Pay1st partnerCode; identifies the tenant in every URL."`
	PartnerID    int64     `json:"partnerId" example:"1042" doc:"The studio's numeric Pay1st partnerId."`
	Name         string    `json:"name" example:"Acme Games" doc:"The studio's display name."`
	ContactName  string    `json:"contactName" example:"Ada Lovelace" doc:"Who to talk to at the studio; empty when unknown."`
	ContactEmail string    `json:"contactEmail" example:"ada@acme-games.example" doc:"The contact's email address; empty when unknown."`
	Status       string    `json:"status" enum:"active,suspended" example:"active" doc:"A suspended tenant's Pay1st endpoints answer 503 (and still record what arrives)."`
	CreatedAt    time.Time `json:"createdAt" doc:"When the tenant was created."`
	UpdatedAt    time.Time `json:"updatedAt" doc:"When the tenant last changed."`
}

func tenantOut(t tenant.Tenant) Tenant {
	return Tenant{PartnerCode: t.PartnerCode, PartnerID: t.PartnerID, Name: t.Name,
		ContactName: t.ContactName, ContactEmail: t.ContactEmail, Status: t.Status,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

// CreateTenantInput is the body of create-tenant.
type CreateTenantInput struct {
	Body struct {
		PartnerCode  string `json:"partnerCode" pattern:"^[a-z0-9][a-z0-9_-]{1,63}$" example:"acme-games" doc:"Pay1st partnerCode: lower-case letters, digits, '-' and '_', 2 to 64 characters."`
		PartnerID    int64  `json:"partnerId" minimum:"1" example:"1042" doc:"Pay1st partnerId."`
		Name         string `json:"name" minLength:"1" maxLength:"200" example:"Acme Games" doc:"The studio's display name."`
		ContactName  string `json:"contactName,omitempty" maxLength:"200" example:"Ada Lovelace" doc:"Who to talk to at the studio."`
		ContactEmail string `json:"contactEmail,omitempty" maxLength:"254" example:"ada@acme-games.example" doc:"The contact's email address."`
	}
}

// CreatedTenant is a new tenant with the secret shown only in this response.
type CreatedTenant struct {
	Tenant
	StagingSigningKey string `json:"stagingSigningKey" example:"hCyO_Flnu6aid-bhFYTYOowkxXRzoZkgzO32rB6Ik8Y" doc:"The staging environment's Signing Key. Returned once, here only: store it now."`
}

// CreateTenantOutput is create-tenant's answer.
type CreateTenantOutput struct {
	Location string `header:"Location"`
	Body     CreatedTenant
}

// GetTenantInput names a tenant.
type GetTenantInput struct {
	PartnerCode string `path:"partnerCode" maxLength:"64" example:"acme-games" doc:"The tenant's Pay1st partnerCode."`
}

// TenantOutput is one tenant.
type TenantOutput struct {
	Body Tenant
}

// ListTenantsInput filters and pages list-tenants.
type ListTenantsInput struct {
	Status string `query:"status" enum:"active,suspended" example:"suspended" doc:"Only tenants in this status; all when omitted."`
	PageParams
}

// TenantList is a page of tenants.
type TenantList struct {
	Items      []Tenant `json:"items" doc:"Tenants in creation order."`
	NextCursor string   `json:"nextCursor,omitempty" example:"MTI" doc:"Pass as cursor for the next page; absent on the last page."`
}

// ListTenantsOutput is list-tenants' answer.
type ListTenantsOutput struct {
	Link string `header:"Link" doc:"The next page, as <url>; rel=\"next\"; absent on the last page."`
	Body TenantList
}

// UpdateTenantInput is update-tenant's: only the fields present change.
type UpdateTenantInput struct {
	PartnerCode string `path:"partnerCode" maxLength:"64" example:"acme-games" doc:"The tenant's Pay1st partnerCode."`
	Body        struct {
		Name         *string `json:"name,omitempty" minLength:"1" maxLength:"200" example:"Acme Games Ltd" doc:"The studio's display name."`
		ContactName  *string `json:"contactName,omitempty" maxLength:"200" example:"Ada Lovelace" doc:"Empty string clears it."`
		ContactEmail *string `json:"contactEmail,omitempty" maxLength:"254" example:"ada@acme-games.example" doc:"An email address; empty string clears it."`
	}
}

// Register adds the tenant operations to api.
func (h *TenantHandler) Register(api huma.API) {
	tags := []string{"Tenants"}
	huma.Register(api, huma.Operation{
		OperationID: "create-tenant", Method: http.MethodPost, Path: "/v1/tenants", Tags: tags,
		Summary:     "Create a tenant",
		Description: "Creates a studio with its staging and production environments. The staging Signing Key is returned once. Operator keys only. Audited.",
		Security:    bearer, DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusConflict, http.StatusUnprocessableEntity},
	}, h.create)
	huma.Register(api, huma.Operation{
		OperationID: "list-tenants", Method: http.MethodGet, Path: "/v1/tenants", Tags: tags,
		Summary:     "List tenants",
		Description: "Pages through the tenants in creation order, optionally of one status. Operator keys only.",
		Security:    bearer,
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity},
	}, h.list)
	huma.Register(api, huma.Operation{
		OperationID: "get-tenant", Method: http.MethodGet, Path: "/v1/tenants/{partnerCode}", Tags: tags,
		Summary:     "Get a tenant",
		Description: "A tenant key sees only its own tenant; any other is not found.",
		Security:    bearer,
		Errors:      []int{http.StatusUnauthorized, http.StatusNotFound},
	}, h.get)
	huma.Register(api, huma.Operation{
		OperationID: "update-tenant", Method: http.MethodPatch, Path: "/v1/tenants/{partnerCode}", Tags: tags,
		Summary: "Update a tenant's name or contact",
		Description: "Changes the fields present in the body; the others stay. Operators, or the tenant's own admin keys " +
			"(viewer keys get 403). partnerCode and partnerId never change. Audited when something changed.",
		Security: bearer,
		Errors:   []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, h.update)
	huma.Register(api, huma.Operation{
		OperationID: "suspend-tenant", Method: http.MethodPost, Path: "/v1/tenants/{partnerCode}/suspend", Tags: tags,
		Summary: "Suspend a tenant",
		Description: "The tenant's Pay1st endpoints answer 503 (Pay1st retries later) and still record every delivery; " +
			"the management API keeps working. Takes effect on every node at commit (nodes are told through Postgres LISTEN/NOTIFY; one whose listener is down sees it within 2 s). " +
			"Idempotent: suspending a suspended tenant changes nothing. Operator keys only. Audited.",
		Security: bearer,
		Errors:   []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound},
	}, h.suspend)
	huma.Register(api, huma.Operation{
		OperationID: "resume-tenant", Method: http.MethodPost, Path: "/v1/tenants/{partnerCode}/resume", Tags: tags,
		Summary:     "Resume a suspended tenant",
		Description: "Makes the tenant active again; its Pay1st endpoints accept deliveries again on every node at commit (within 2 s on a node whose listener is down). Idempotent. Operator keys only. Audited.",
		Security:    bearer,
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound},
	}, h.resume)
}

func (h *TenantHandler) create(ctx context.Context, in *CreateTenantInput) (*CreateTenantOutput, error) {
	if err := requireOperator(ctx); err != nil {
		return nil, err
	}
	c, err := h.tenants.Create(ctx, tenant.CreateParams{
		PartnerCode: in.Body.PartnerCode, PartnerID: in.Body.PartnerID, Name: in.Body.Name,
		ContactName: in.Body.ContactName, ContactEmail: in.Body.ContactEmail,
	})
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	out := &CreateTenantOutput{Location: "/v1/tenants/" + c.PartnerCode}
	out.Body = CreatedTenant{Tenant: tenantOut(c.Tenant), StagingSigningKey: c.StagingSigningKey}
	return out, nil
}

func (h *TenantHandler) list(ctx context.Context, in *ListTenantsInput) (*ListTenantsOutput, error) {
	if err := requireOperator(ctx); err != nil {
		return nil, err
	}
	page, err := h.tenants.List(ctx, tenant.TenantFilter{Status: in.Status, Limit: in.Limit, Cursor: in.Cursor})
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	out := &ListTenantsOutput{Body: TenantList{Items: make([]Tenant, 0, len(page.Tenants)), NextCursor: page.NextCursor}}
	for _, t := range page.Tenants {
		out.Body.Items = append(out.Body.Items, tenantOut(t))
	}
	out.Link = nextLink("/v1/tenants", url.Values{"status": {in.Status}}, tenant.PageLimit(in.Limit), page.NextCursor)
	return out, nil
}

func (h *TenantHandler) get(ctx context.Context, in *GetTenantInput) (*TenantOutput, error) {
	t, err := visibleTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return &TenantOutput{Body: tenantOut(t)}, nil
}

func (h *TenantHandler) update(ctx context.Context, in *UpdateTenantInput) (*TenantOutput, error) {
	if _, err := writableTenant(ctx, h.tenants, in.PartnerCode); err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	t, err := h.tenants.Update(ctx, in.PartnerCode, tenant.UpdateParams{
		Name: in.Body.Name, ContactName: in.Body.ContactName, ContactEmail: in.Body.ContactEmail,
	})
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return &TenantOutput{Body: tenantOut(t)}, nil
}

func (h *TenantHandler) suspend(ctx context.Context, in *GetTenantInput) (*TenantOutput, error) {
	return h.setStatus(ctx, in.PartnerCode, h.tenants.Suspend)
}

func (h *TenantHandler) resume(ctx context.Context, in *GetTenantInput) (*TenantOutput, error) {
	return h.setStatus(ctx, in.PartnerCode, h.tenants.Resume)
}

func (h *TenantHandler) setStatus(ctx context.Context, code string, set func(context.Context, string) (tenant.Tenant, error)) (*TenantOutput, error) {
	if _, err := operatorTenant(ctx, h.tenants, code); err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	t, err := set(ctx, code)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return &TenantOutput{Body: tenantOut(t)}, nil
}
