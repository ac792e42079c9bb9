package tenant

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/partnerhub/partnerhub/internal/db"
)

// Checklist step statuses.
const (
	StepTodo       = "todo"
	StepInProgress = "in_progress"
	StepDone       = "done"
)

// Step is one line of the onboarding checklist of the Shop integration seed
// (shop-integration-checklist.txt), as data.
type Step struct {
	Key            string
	Task           string
	EstimatedDays  decimal.Decimal
	Responsibility string
	// Observed says how partnerhub sees the step done by itself; empty for
	// steps only a person can mark.
	Observed string
}

// Steps is the checklist, in the seed's order.
var Steps = []Step{
	{Key: "registration", EstimatedDays: decimal.RequireFromString("0.5"), Responsibility: "Pay1st Partner",
		Task: "All supplied email addresses receive a welcome email from Pay1st; complete its steps to finish registration."},
	{Key: "catalog", EstimatedDays: decimal.RequireFromString("2"), Responsibility: "Pay1st Partner and Pay1st Implementation Manager",
		Task:     "Configure products and bundles (SKUs): the countries each product is enabled in and the bundles' prices.",
		Observed: "staging has a product and a bundle with a price"},
	{Key: "fulfilment_method", EstimatedDays: decimal.RequireFromString("0.5"), Responsibility: "Pay1st Partner",
		Task:     "Configure the fulfilment method for the listed products.",
		Observed: "staging has products, and those fulfilled by plugin have an active plugin to go to"},
	{Key: "user_info_webhook", EstimatedDays: decimal.RequireFromString("2"), Responsibility: "Pay1st Partner's Development Team",
		Task:     "Implement the User Info Webhook (partnerhub answers it through the tenant's plugin).",
		Observed: "a plugin is active in staging"},
	{Key: "summary_webhook", EstimatedDays: decimal.RequireFromString("3"), Responsibility: "Pay1st Partner's Development Team",
		Task:     "Implement the Summary Webhook (partnerhub receives it and fulfils through the tenant's plugin).",
		Observed: "the staging plugin has fulfilled a payment"},
	{Key: "staging_test", EstimatedDays: decimal.RequireFromString("1"), Responsibility: "Pay1st Partner and Pay1st Implementation Manager",
		Task:     "Do a test transaction and fulfilment in the Sandbox/Staging environment.",
		Observed: "a staging payment succeeded and was fulfilled"},
	{Key: "creatives", EstimatedDays: decimal.RequireFromString("3"), Responsibility: "Pay1st Partner",
		Task: "Prepare creative material (logos, SKU images) for production."},
	{Key: "replicate_production", EstimatedDays: decimal.RequireFromString("1"), Responsibility: "Pay1st Partner or Pay1st Implementation Manager",
		Task:     "Replicate the staging product and product bundle configuration for production.",
		Observed: "production's catalog equals staging's (see promotions)"},
	{Key: "production_uat", EstimatedDays: decimal.RequireFromString("0.5"), Responsibility: "Pay1st Partner or Pay1st Implementation Manager",
		Task:     "Do a production UAT test.",
		Observed: "a production payment was fulfilled"},
}

// StepState is a step with its status for one tenant.
type StepState struct {
	Step
	Status    string
	Automatic bool // done because partnerhub observed it
	Note      string
	UpdatedAt *time.Time
}

// Checklist is a tenant's onboarding progress.
type Checklist struct {
	TenantID          int64
	PartnerCode       string
	Steps             []StepState
	Done              int
	Total             int
	EstimatedDaysLeft decimal.Decimal
}

// Checklist returns tenant t's checklist: steps set by hand, with the steps
// partnerhub observes marked done when it sees them.
func (s *Service) Checklist(ctx context.Context, t Tenant) (Checklist, error) {
	manual, err := s.store.stepRows(ctx, s.pool, t.ID)
	if err != nil {
		return Checklist{}, err
	}
	seen, err := s.observe(ctx, t)
	if err != nil {
		return Checklist{}, err
	}
	c := Checklist{TenantID: t.ID, PartnerCode: t.PartnerCode, Total: len(Steps), EstimatedDaysLeft: decimal.Zero}
	for _, st := range Steps {
		state := StepState{Step: st, Status: StepTodo}
		if row, ok := manual[st.Key]; ok {
			state.Status, state.Note, state.UpdatedAt = row.status, row.note, &row.updatedAt
		}
		if seen[st.Key] {
			state.Status, state.Automatic = StepDone, true
		}
		if state.Status == StepDone {
			c.Done++
		} else {
			c.EstimatedDaysLeft = c.EstimatedDaysLeft.Add(st.EstimatedDays)
		}
		c.Steps = append(c.Steps, state)
	}
	return c, nil
}

// SetStep records a step's status set by hand, with an optional note.
func (s *Service) SetStep(ctx context.Context, t Tenant, key, status, note string) error {
	if !knownStep(key) {
		return fmt.Errorf("%w: checklist step %q", ErrNotFound, key)
	}
	switch status {
	case StepTodo, StepInProgress, StepDone:
	default:
		return &FieldError{Field: "status", Problem: "must be todo, in_progress or done"}
	}
	if len(note) > 1000 {
		return &FieldError{Field: "note", Problem: "must be at most 1000 characters"}
	}
	return db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := s.store.setStep(ctx, tx, t.ID, key, status, note); err != nil {
			return err
		}
		return s.AuditTx(ctx, tx, "checklist.set", t.ID, "step:"+key, map[string]any{"status": status})
	})
}

func knownStep(key string) bool {
	for _, st := range Steps {
		if st.Key == key {
			return true
		}
	}
	return false
}

// observe reports which steps partnerhub can see done for t.
func (s *Service) observe(ctx context.Context, t Tenant) (map[string]bool, error) {
	o, err := s.store.observations(ctx, s.pool, t.ID)
	if err != nil {
		return nil, err
	}
	replicated, err := s.replicated(ctx, t)
	if err != nil {
		return nil, err
	}
	return map[string]bool{
		"catalog":              o.catalog,
		"fulfilment_method":    o.fulfilmentMethod,
		"user_info_webhook":    o.stagingPlugin,
		"summary_webhook":      o.stagingFulfilled,
		"staging_test":         o.stagingFulfilled,
		"replicate_production": replicated,
		"production_uat":       o.productionFulfilled,
	}, nil
}

// replicated reports whether production's catalog is staging's, judged by
// the same comparison promotion makes: a non-empty staging catalog and no
// product or bundle a promotion would change.
func (s *Service) replicated(ctx context.Context, t Tenant) (bool, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return false, fmt.Errorf("begin checklist read: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	staging, err := s.snapshot(ctx, tx, t.ID, Staging)
	if err != nil {
		return false, err
	}
	if len(staging.bundles) == 0 {
		return false, nil
	}
	production, err := s.snapshot(ctx, tx, t.ID, Production)
	if err != nil {
		return false, err
	}
	plan, err := planPromotion(staging, production)
	if err != nil {
		return false, nil // e.g. two products of one name: not a replica yet
	}
	return len(plan.changes) == 0, nil
}
