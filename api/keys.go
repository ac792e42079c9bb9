package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/partnerhub/partnerhub/tenant"
)

// KeyHandler serves API keys: the operators' at /v1/api-keys and each
// tenant's at /v1/tenants/{partnerCode}/api-keys. A key's secret is shown
// once, when it is created; lists show its prefix and metadata only.
type KeyHandler struct {
	tenants *tenant.Service
	logger  *slog.Logger
}

// APIKey is a key's metadata, never its secret.
type APIKey struct {
	Prefix      string     `json:"prefix" example:"k3jq7x2m" doc:"The key's public prefix (phk_<prefix>_...); names it in the API."`
	Name        string     `json:"name" example:"CI deploys" doc:"A label for people: what the key is for."`
	Scope       string     `json:"scope" enum:"operator,tenant" example:"tenant" doc:"operator keys see every tenant; tenant keys one."`
	PartnerCode string     `json:"partnerCode,omitempty" example:"acme-games" doc:"The tenant of a tenant key."`
	Role        string     `json:"role" enum:"admin,viewer" example:"admin" doc:"viewer keys read, admin keys also write. Operator keys are admin."`
	CreatedAt   time.Time  `json:"createdAt" doc:"When the key was created."`
	LastUsedAt  *time.Time `json:"lastUsedAt,omitempty" doc:"When the key last authenticated a request, to the minute; absent if never."`
	RevokedAt   *time.Time `json:"revokedAt,omitempty" doc:"When the key was revoked; absent while it works."`
}

func keyOut(k tenant.APIKey, partnerCode string) APIKey {
	return APIKey{Prefix: k.Prefix, Name: k.Name, Scope: k.Scope, PartnerCode: partnerCode, Role: k.Role,
		CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt}
}

// CreatedAPIKey is a new key with its secret, shown only in this response.
type CreatedAPIKey struct {
	APIKey
	Key string `json:"key" example:"phk_k3jq7x2m_Qm9vZ2xlLWl0LXRoaXMtaXMtbm90LWEtcmVhbC1rZXk" doc:"The API key. Returned once, here only: store it now. partnerhub keeps only its hash."`
}

// CreatedAPIKeyOutput is the answer of the create operations.
type CreatedAPIKeyOutput struct {
	Body CreatedAPIKey
}

// APIKeyOutput is one key.
type APIKeyOutput struct {
	Body APIKey
}

// APIKeyList is a page of keys.
type APIKeyList struct {
	Items      []APIKey `json:"items" doc:"Keys in creation order, revoked ones included."`
	NextCursor string   `json:"nextCursor,omitempty" example:"MTI" doc:"Pass as cursor for the next page; absent on the last page."`
}

// APIKeyListOutput is the answer of the list operations.
type APIKeyListOutput struct {
	Link string `header:"Link" doc:"The next page, as <url>; rel=\"next\"; absent on the last page."`
	Body APIKeyList
}

// CreateOperatorKeyInput is create-operator-api-key's body.
type CreateOperatorKeyInput struct {
	Body struct {
		Name string `json:"name" minLength:"1" maxLength:"100" example:"ops laptop" doc:"What the key is for; shown in lists and the audit log."`
	}
}

// CreateTenantKeyInput is create-api-key's.
type CreateTenantKeyInput struct {
	PartnerCode string `path:"partnerCode" maxLength:"64" example:"acme-games" doc:"The tenant's Pay1st partnerCode."`
	Body        struct {
		Name string `json:"name" minLength:"1" maxLength:"100" example:"CI deploys" doc:"What the key is for; shown in lists and the audit log."`
		Role string `json:"role" enum:"admin,viewer" example:"viewer" doc:"admin writes and reads the tenant's resources; viewer only reads."`
	}
}

// ListOperatorKeysInput pages list-operator-api-keys.
type ListOperatorKeysInput struct {
	PageParams
}

// ListTenantKeysInput pages list-api-keys.
type ListTenantKeysInput struct {
	PartnerCode string `path:"partnerCode" maxLength:"64" example:"acme-games" doc:"The tenant's Pay1st partnerCode."`
	PageParams
}

// RevokeOperatorKeyInput names an operator key.
type RevokeOperatorKeyInput struct {
	Prefix string `path:"prefix" pattern:"^[a-z2-7]{8}$" example:"k3jq7x2m" doc:"The key's prefix."`
}

// RevokeTenantKeyInput names a tenant's key.
type RevokeTenantKeyInput struct {
	PartnerCode string `path:"partnerCode" maxLength:"64" example:"acme-games" doc:"The tenant's Pay1st partnerCode."`
	Prefix      string `path:"prefix" pattern:"^[a-z2-7]{8}$" example:"k3jq7x2m" doc:"The key's prefix."`
}

const revokeDoc = "The key stops working at once, on every node. Idempotent: revoking a revoked key answers 200 with the key " +
	"as it is (its first revocation time). A key may revoke itself. Audited."

// Register adds the key operations to api.
func (h *KeyHandler) Register(api huma.API) {
	tags := []string{"API keys"}
	huma.Register(api, huma.Operation{
		OperationID: "create-operator-api-key", Method: http.MethodPost, Path: "/v1/api-keys", Tags: tags,
		Summary:     "Create an operator API key",
		Description: "Issues a key that sees and manages every tenant. The key is returned once. Operator keys only. Audited.",
		Security:    bearer, DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusConflict, http.StatusUnprocessableEntity},
	}, h.createOperator)
	huma.Register(api, huma.Operation{
		OperationID: "list-operator-api-keys", Method: http.MethodGet, Path: "/v1/api-keys", Tags: tags,
		Summary:     "List operator API keys",
		Description: "Prefixes and metadata of the operator keys, revoked ones included; never a secret. Operator keys only.",
		Security:    bearer,
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity},
	}, h.listOperator)
	huma.Register(api, huma.Operation{
		OperationID: "revoke-operator-api-key", Method: http.MethodPost, Path: "/v1/api-keys/{prefix}/revoke", Tags: tags,
		Summary:     "Revoke an operator API key",
		Description: revokeDoc + " The last live operator key cannot be revoked (409): create another first. Operator keys only.",
		Security:    bearer,
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
	}, h.revokeOperator)
	huma.Register(api, huma.Operation{
		OperationID: "create-api-key", Method: http.MethodPost, Path: "/v1/tenants/{partnerCode}/api-keys", Tags: tags,
		Summary: "Create a tenant API key",
		Description: "Issues a key that sees only this tenant, as admin or viewer. The key is returned once. " +
			"Operators, or the tenant's admin keys (viewer keys get 403). Audited.",
		Security: bearer, DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, h.createTenant)
	huma.Register(api, huma.Operation{
		OperationID: "list-api-keys", Method: http.MethodGet, Path: "/v1/tenants/{partnerCode}/api-keys", Tags: tags,
		Summary:     "List a tenant's API keys",
		Description: "Prefixes and metadata of the tenant's keys, revoked ones included; never a secret. Operators and the tenant's keys.",
		Security:    bearer,
		Errors:      []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, h.listTenant)
	huma.Register(api, huma.Operation{
		OperationID: "revoke-api-key", Method: http.MethodPost, Path: "/v1/tenants/{partnerCode}/api-keys/{prefix}/revoke", Tags: tags,
		Summary:     "Revoke a tenant API key",
		Description: revokeDoc + " Operators, or the tenant's admin keys (viewer keys get 403).",
		Security:    bearer,
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound},
	}, h.revokeTenant)
}

func (h *KeyHandler) createOperator(ctx context.Context, in *CreateOperatorKeyInput) (*CreatedAPIKeyOutput, error) {
	if err := requireOperator(ctx); err != nil {
		return nil, err
	}
	c, err := h.tenants.CreateKey(ctx, tenant.NewKeyParams{Scope: tenant.ScopeOperator, Role: tenant.RoleAdmin, Name: in.Body.Name})
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return &CreatedAPIKeyOutput{Body: CreatedAPIKey{APIKey: keyOut(c.APIKey, ""), Key: c.Raw}}, nil
}

func (h *KeyHandler) listOperator(ctx context.Context, in *ListOperatorKeysInput) (*APIKeyListOutput, error) {
	if err := requireOperator(ctx); err != nil {
		return nil, err
	}
	return h.list(ctx, tenant.KeyFilter{Scope: tenant.ScopeOperator}, in.PageParams, "/v1/api-keys", "")
}

func (h *KeyHandler) revokeOperator(ctx context.Context, in *RevokeOperatorKeyInput) (*APIKeyOutput, error) {
	if err := requireOperator(ctx); err != nil {
		return nil, err
	}
	k, err := h.tenants.RevokeKey(ctx, tenant.ScopeOperator, 0, in.Prefix)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return &APIKeyOutput{Body: keyOut(k, "")}, nil
}

func (h *KeyHandler) createTenant(ctx context.Context, in *CreateTenantKeyInput) (*CreatedAPIKeyOutput, error) {
	t, err := writableTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	c, err := h.tenants.CreateKey(ctx, tenant.NewKeyParams{Scope: tenant.ScopeTenant, TenantID: t.ID, Role: in.Body.Role, Name: in.Body.Name})
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return &CreatedAPIKeyOutput{Body: CreatedAPIKey{APIKey: keyOut(c.APIKey, t.PartnerCode), Key: c.Raw}}, nil
}

func (h *KeyHandler) listTenant(ctx context.Context, in *ListTenantKeysInput) (*APIKeyListOutput, error) {
	t, err := visibleTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return h.list(ctx, tenant.KeyFilter{Scope: tenant.ScopeTenant, TenantID: t.ID}, in.PageParams,
		"/v1/tenants/"+t.PartnerCode+"/api-keys", t.PartnerCode)
}

func (h *KeyHandler) revokeTenant(ctx context.Context, in *RevokeTenantKeyInput) (*APIKeyOutput, error) {
	t, err := writableTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	k, err := h.tenants.RevokeKey(ctx, tenant.ScopeTenant, t.ID, in.Prefix)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return &APIKeyOutput{Body: keyOut(k, t.PartnerCode)}, nil
}

func (h *KeyHandler) list(ctx context.Context, f tenant.KeyFilter, pp PageParams, path, partnerCode string) (*APIKeyListOutput, error) {
	f.Limit, f.Cursor = pp.Limit, pp.Cursor
	page, err := h.tenants.ListKeys(ctx, f)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	out := &APIKeyListOutput{Body: APIKeyList{Items: make([]APIKey, 0, len(page.Keys)), NextCursor: page.NextCursor}}
	for _, k := range page.Keys {
		out.Body.Items = append(out.Body.Items, keyOut(k, partnerCode))
	}
	out.Link = nextLink(path, nil, tenant.PageLimit(pp.Limit), page.NextCursor)
	return out, nil
}
