package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/partnerhub/partnerhub/tenant"
)

// TenantHandler serves /v1/tenants.
type TenantHandler struct {
	tenants *tenant.Service
	logger  *slog.Logger
}

// Tenant is a studio as the API shows it.
type Tenant struct {
	PartnerCode string    `json:"partnerCode" example:"acme-games" doc:"The studio's Pay1st partnerCode; identifies the tenant in every URL."`
	PartnerID   int64     `json:"partnerId" example:"1042" doc:"The studio's numeric Pay1st partnerId."`
	Name        string    `json:"name" example:"Acme Games"`
	Status      string    `json:"status" enum:"active,suspended" example:"active"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

func tenantOut(t tenant.Tenant) Tenant {
	return Tenant{PartnerCode: t.PartnerCode, PartnerID: t.PartnerID, Name: t.Name, Status: t.Status,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

// CreateTenantInput is the body of create-tenant.
type CreateTenantInput struct {
	Body struct {
		PartnerCode string `json:"partnerCode" pattern:"^[a-z0-9][a-z0-9_-]{1,63}$" example:"acme-games" doc:"Pay1st partnerCode: lower-case letters, digits, '-' and '_', 2 to 64 characters."`
		PartnerID   int64  `json:"partnerId" minimum:"1" example:"1042" doc:"Pay1st partnerId."`
		Name        string `json:"name" minLength:"1" maxLength:"200" example:"Acme Games"`
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
	PartnerCode string `path:"partnerCode" maxLength:"64" example:"acme-games"`
}

// TenantOutput is one tenant.
type TenantOutput struct {
	Body Tenant
}

// Register adds the tenant operations to api.
func (h *TenantHandler) Register(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "create-tenant", Method: http.MethodPost, Path: "/v1/tenants", Tags: []string{"Tenants"},
		Summary:     "Create a tenant",
		Description: "Creates a studio with its staging and production environments. The staging Signing Key is returned once. Operator keys only.",
		Security:    bearer, DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusConflict, http.StatusUnprocessableEntity},
	}, h.create)
	huma.Register(api, huma.Operation{
		OperationID: "get-tenant", Method: http.MethodGet, Path: "/v1/tenants/{partnerCode}", Tags: []string{"Tenants"},
		Summary:     "Get a tenant",
		Description: "A tenant key sees only its own tenant; any other is not found.",
		Security:    bearer,
		Errors:      []int{http.StatusUnauthorized, http.StatusNotFound},
	}, h.get)
}

func (h *TenantHandler) create(ctx context.Context, in *CreateTenantInput) (*CreateTenantOutput, error) {
	if err := requireOperator(ctx); err != nil {
		return nil, err
	}
	c, err := h.tenants.Create(ctx, tenant.CreateParams{
		PartnerCode: in.Body.PartnerCode, PartnerID: in.Body.PartnerID, Name: in.Body.Name,
	})
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	out := &CreateTenantOutput{Location: "/v1/tenants/" + c.PartnerCode}
	out.Body = CreatedTenant{Tenant: tenantOut(c.Tenant), StagingSigningKey: c.StagingSigningKey}
	return out, nil
}

func (h *TenantHandler) get(ctx context.Context, in *GetTenantInput) (*TenantOutput, error) {
	t, err := h.tenants.Get(ctx, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	if !principal(ctx).CanSee(t.ID) {
		// Another tenant's resources are simply not found.
		return nil, problem(ctx, h.logger, tenant.ErrNotFound)
	}
	return &TenantOutput{Body: tenantOut(t)}, nil
}
