package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/partnerhub/partnerhub/tenant"
)

// OnboardingHandler serves a tenant's path to go-live: the onboarding
// checklist and the promotion of staging to production.
type OnboardingHandler struct {
	tenants *tenant.Service
	logger  *slog.Logger
}

// ChecklistStep is one step of the onboarding checklist.
type ChecklistStep struct {
	Key            string     `json:"key" example:"catalog" doc:"Stable identifier of the step."`
	Task           string     `json:"task" example:"Create the products and bundles in the Pay1st Console" doc:"What the step asks for, from Pay1st's Shop integration checklist."`
	EstimatedDays  string     `json:"estimatedDays" example:"0.5" doc:"Pay1st's estimate, in days (decimal)."`
	Responsibility string     `json:"responsibility" example:"Pay1st Partner" doc:"Who does the step, in Pay1st's checklist."`
	Status         string     `json:"status" enum:"todo,in_progress,done" doc:"Where the step stands."`
	Automatic      bool       `json:"automatic" doc:"True when partnerhub saw the step done by itself."`
	Observed       string     `json:"observed,omitempty" example:"staging has a product and a bundle with a price" doc:"How partnerhub sees this step done; absent for steps only a person can mark."`
	Note           string     `json:"note,omitempty" example:"Prices for KE still to be agreed with finance." doc:"A person's note on the step; absent when none."`
	UpdatedAt      *time.Time `json:"updatedAt,omitempty" doc:"When a person last set the step."`
}

// Checklist is a tenant's onboarding progress.
type Checklist struct {
	PartnerCode       string          `json:"partnerCode" example:"acme-games" doc:"The tenant."`
	Done              int             `json:"done" example:"3" doc:"Steps done."`
	Total             int             `json:"total" example:"9" doc:"Steps in all."`
	EstimatedDaysLeft string          `json:"estimatedDaysLeft" example:"7.5" doc:"Sum of the estimates of the steps not done."`
	Steps             []ChecklistStep `json:"steps" doc:"Every step, in the checklist's order."`
}

func checklistOut(c tenant.Checklist) Checklist {
	out := Checklist{PartnerCode: c.PartnerCode, Done: c.Done, Total: c.Total,
		EstimatedDaysLeft: c.EstimatedDaysLeft.String(), Steps: make([]ChecklistStep, 0, len(c.Steps))}
	for _, s := range c.Steps {
		out.Steps = append(out.Steps, ChecklistStep{Key: s.Key, Task: s.Task, EstimatedDays: s.EstimatedDays.String(),
			Responsibility: s.Responsibility, Status: s.Status, Automatic: s.Automatic, Observed: s.Observed,
			Note: s.Note, UpdatedAt: s.UpdatedAt})
	}
	return out
}

// ChecklistInput names a tenant.
type ChecklistInput struct {
	PartnerCode string `path:"partnerCode" maxLength:"64" example:"acme-games" doc:"The tenant's Pay1st partnerCode."`
}

// ChecklistOutput is a tenant's checklist.
type ChecklistOutput struct {
	Body Checklist
}

// SetChecklistStepInput sets a step by hand.
type SetChecklistStepInput struct {
	PartnerCode string `path:"partnerCode" maxLength:"64" example:"acme-games" doc:"The tenant's Pay1st partnerCode."`
	Step        string `path:"step" maxLength:"64" example:"creatives" doc:"The checklist step's name, as listed by get-checklist."`
	Body        struct {
		Status string `json:"status" enum:"todo,in_progress,done" doc:"A step partnerhub observes done stays done whatever is set here."`
		Note   string `json:"note,omitempty" maxLength:"1000" example:"Prices for KE still to be agreed with finance." doc:"A note for the people following onboarding; empty clears it."`
	}
}

// ListChecklistsInput pages through tenants.
type ListChecklistsInput struct {
	PageParams
}

// ChecklistList is a page of tenants' progress.
type ChecklistList struct {
	Items      []Checklist `json:"items" doc:"One checklist per tenant, in partnerCode order."`
	NextCursor string      `json:"nextCursor,omitempty" example:"MTI" doc:"Pass as cursor for the next page; absent on the last page."`
}

// ChecklistListOutput is list-checklists' answer.
type ChecklistListOutput struct {
	Link string `header:"Link" doc:"RFC 8288 link to the next page, when there is one."`
	Body ChecklistList
}

// PromotionInput asks for a promotion of staging to production.
type PromotionInput struct {
	PartnerCode string `path:"partnerCode" maxLength:"64" example:"acme-games" doc:"The tenant's Pay1st partnerCode."`
	Body        struct {
		DryRun bool `json:"dryRun,omitempty" doc:"Only compute the changes; write nothing. Default false."`
	}
}

// PromotionChange is one difference between staging and production.
type PromotionChange struct {
	Kind   string   `json:"kind" enum:"product,bundle,setting" doc:"What differs: a product, a bundle, or an environment setting."`
	Action string   `json:"action" enum:"create,update,delete" doc:"What promotion does to production for it."`
	Key    string   `json:"key" doc:"The product's name, the bundle's SKU, or the setting's field name (callbackSuccessUrl, ipAllowList, activePlugin, ...)." example:"GEMS-100"`
	Fields []string `json:"fields,omitempty" doc:"For updates, the fields that differ." example:"[\"prices\"]"`
}

// Promotion is what a promotion did (or would do).
type Promotion struct {
	DryRun  bool              `json:"dryRun" doc:"True when nothing was changed: the changes are what would happen."`
	Applied bool              `json:"applied" doc:"False for a dry run, and when production already equalled staging."`
	Changes []PromotionChange `json:"changes" doc:"Every difference, in the order it is applied."`
}

// PromotionOutput is create-promotion's answer.
type PromotionOutput struct {
	Body Promotion
}

// Register adds the onboarding operations to api.
func (h *OnboardingHandler) Register(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "get-checklist", Method: http.MethodGet, Path: "/v1/tenants/{partnerCode}/checklist", Tags: []string{"Onboarding"},
		Summary: "Get the onboarding checklist",
		Description: "Pay1st's Shop integration checklist for this tenant: each step with its estimate, responsibility and " +
			"status, progress (done/total) and estimated days left. Steps partnerhub can observe (catalog configured, plugin " +
			"active, payments fulfilled, production replicated) complete themselves.",
		Security: bearer, Errors: []int{http.StatusUnauthorized, http.StatusNotFound},
	}, h.get)
	huma.Register(api, huma.Operation{
		OperationID: "set-checklist-step", Method: http.MethodPut, Path: "/v1/tenants/{partnerCode}/checklist/{step}", Tags: []string{"Onboarding"},
		Summary:     "Set a checklist step by hand",
		Description: "For steps only a person can see done (registration, creatives), or to mark one in progress. Admin keys and operators.",
		Security:    bearer, Errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, h.setStep)
	huma.Register(api, huma.Operation{
		OperationID: "list-checklists", Method: http.MethodGet, Path: "/v1/checklists", Tags: []string{"Onboarding"},
		Summary:     "List every tenant's onboarding progress",
		Description: "Operators only. Tenants in id order, each with its checklist.",
		Security:    bearer, Errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity},
	}, h.list)
	huma.Register(api, huma.Operation{
		OperationID: "create-promotion", Method: http.MethodPost, Path: "/v1/tenants/{partnerCode}/promotions", Tags: []string{"Onboarding"},
		Summary: "Promote staging to production",
		Description: "Makes production's catalog equal to staging's — products matched by name, bundles by SKU; never " +
			"credentials, nor a bundle's Pay1st productBundleId. With dryRun it returns the changes without writing. " +
			"All or nothing: a change production refuses (an http image URL, a bundle payments bought) fails the whole " +
			"promotion. Applying twice changes nothing the second time. Admin keys and operators.",
		Security: bearer,
		Errors:   []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, h.promote)
}

func (h *OnboardingHandler) get(ctx context.Context, in *ChecklistInput) (*ChecklistOutput, error) {
	t, err := visibleTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	c, err := h.tenants.Checklist(ctx, t)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return &ChecklistOutput{Body: checklistOut(c)}, nil
}

func (h *OnboardingHandler) setStep(ctx context.Context, in *SetChecklistStepInput) (*ChecklistOutput, error) {
	t, err := writableTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	if err := h.tenants.SetStep(ctx, t, in.Step, in.Body.Status, in.Body.Note); err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	c, err := h.tenants.Checklist(ctx, t)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return &ChecklistOutput{Body: checklistOut(c)}, nil
}

func (h *OnboardingHandler) list(ctx context.Context, in *ListChecklistsInput) (*ChecklistListOutput, error) {
	if err := requireOperator(ctx); err != nil {
		return nil, err
	}
	page, err := h.tenants.List(ctx, tenant.TenantFilter{Limit: in.Limit, Cursor: in.Cursor})
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	out := &ChecklistListOutput{Body: ChecklistList{Items: make([]Checklist, 0, len(page.Tenants)), NextCursor: page.NextCursor}}
	for _, t := range page.Tenants {
		c, err := h.tenants.Checklist(ctx, t)
		if err != nil {
			return nil, problem(ctx, h.logger, err)
		}
		out.Body.Items = append(out.Body.Items, checklistOut(c))
	}
	out.Link = nextLink("/v1/checklists", nil, tenant.PageLimit(in.Limit), page.NextCursor)
	return out, nil
}

func (h *OnboardingHandler) promote(ctx context.Context, in *PromotionInput) (*PromotionOutput, error) {
	t, err := writableTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	p, err := h.tenants.Promote(ctx, t, in.Body.DryRun)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	out := &PromotionOutput{Body: Promotion{DryRun: p.DryRun, Applied: p.Applied, Changes: make([]PromotionChange, 0, len(p.Changes))}}
	for _, c := range p.Changes {
		out.Body.Changes = append(out.Body.Changes, PromotionChange{Kind: c.Kind, Action: c.Action, Key: c.Key, Fields: c.Fields})
	}
	return out, nil
}
