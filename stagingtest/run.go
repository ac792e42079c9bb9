package stagingtest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/pay1st/sim"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

// Run runs a test transaction for t in env (staging only) and answers its
// steps once it succeeded, failed, or the wait ended (status pending). A
// repeat of the request (same partnerReference) answers the stored
// transaction when it is finished or running, and resumes it when pending:
// every step is safe to run again (the order is idempotent, the simulator
// pays only an unpaid payment, the rest observe). created is true when
// the transaction is new.
//
// Errors: ErrStagingOnly for production; *tenant.FieldError for bad input
// or an unknown bundle (nothing stored); tenant.ErrConflict (wrapped) when
// the partnerReference belongs to another request; tenant.ErrNotFound for
// an unknown environment. What goes wrong in the purchase itself is a failed step,
// not an error.
func (s *Service) Run(ctx context.Context, t tenant.Tenant, env string, req Request) (Transaction, bool, error) {
	if err := checkEnv(env); err != nil {
		return Transaction{}, false, err
	}
	if err := req.validate(); err != nil {
		return Transaction{}, false, err
	}
	if err := s.resolveBundle(ctx, t, &req); err != nil {
		return Transaction{}, false, err
	}
	tx, claimed, created, err := s.store.claim(ctx, s.cfg.Pool, t.ID, req, time.Now().Add(s.cfg.Wait+leaseMargin))
	if err != nil {
		return Transaction{}, false, err
	}
	if !claimed {
		return tx, false, nil
	}
	s.run(ctx, t, &tx)
	return tx, created, nil
}

// Get returns a test transaction of t by partnerReference.
func (s *Service) Get(ctx context.Context, t tenant.Tenant, env, partnerReference string) (Transaction, error) {
	if err := checkEnv(env); err != nil {
		return Transaction{}, err
	}
	return s.store.get(ctx, s.cfg.Pool, t.ID, partnerReference)
}

// resolveBundle fills the SKU (from bundleId) and the country (the
// bundle's first priced one) from the staging catalog.
func (s *Service) resolveBundle(ctx context.Context, t tenant.Tenant, req *Request) error {
	var b tenant.Bundle
	if req.BundleID != 0 {
		var err error
		b, err = s.cfg.Tenants.GetBundle(ctx, t.ID, tenant.Staging, req.BundleID)
		if errors.Is(err, tenant.ErrNotFound) {
			return &tenant.FieldError{Field: "bundleId", Problem: "no such bundle in the staging catalog"}
		}
		if err != nil {
			return err
		}
	} else {
		page, err := s.cfg.Tenants.ListBundles(ctx, t.ID, tenant.Staging, tenant.BundleFilter{SKU: req.SKU, Limit: 1})
		if err != nil {
			return err
		}
		if len(page.Bundles) == 0 {
			return &tenant.FieldError{Field: "sku", Problem: "no bundle with SKU " + req.SKU + " in the staging catalog"}
		}
		b = page.Bundles[0]
	}
	req.SKU, req.BundleID = b.SKU, 0
	if req.CountryCode == "" {
		if len(b.Prices) == 0 {
			return &tenant.FieldError{Field: "sku", Problem: "bundle " + b.SKU + " has no price in staging"}
		}
		req.CountryCode = b.Prices[0].CountryCode
	}
	return nil
}

// runner carries one run's state between steps.
type runner struct {
	s   *Service
	t   tenant.Tenant
	tx  *Transaction
	ctx context.Context // bounded by the wait
	// env redacts the webhook tokens from step details, which viewer keys
	// read: a transport error may quote the webhook URL.
	env tenant.Env

	paymentID int64
}

// step records a step's outcome and saves the transaction, so a GET shows
// progress and a crash leaves the steps so far.
//
// A step that failed once the wait ended (or in a run cut short) is
// pending, not failed: the purchase may well go through, and the same
// request resumes it.
func (r *runner) step(name, result, detail string) bool {
	if result == ResultFailed && r.ctx.Err() != nil {
		result, detail = ResultPending, "the wait ended: "+detail
	}
	detail = string(r.env.RedactWebhookTokens([]byte(detail)))
	st := Step{Name: name, Result: result, Detail: detail, At: time.Now().UTC()}
	// A resumed run replaces the steps it runs again.
	for i, old := range r.tx.Steps {
		if old.Name == name {
			r.tx.Steps = append(r.tx.Steps[:i], r.tx.Steps[i+1:]...)
			break
		}
	}
	r.tx.Steps = append(r.tx.Steps, st)
	r.save()
	return result == ResultOK
}

func (r *runner) save() {
	// Saving outlives the wait: the outcome must be kept.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), 5*time.Second)
	defer cancel()
	if err := r.s.store.save(ctx, r.s.cfg.Pool, *r.tx); err != nil {
		r.s.cfg.Logger.ErrorContext(ctx, "save test transaction", "partner_code", r.t.PartnerCode,
			"partner_reference", r.tx.PartnerReference, "err", err)
	}
}

// run runs the steps in order, stopping at the first that is not ok, and
// sets the final status.
func (s *Service) run(ctx context.Context, t tenant.Tenant, tx *Transaction) {
	// The run outlives the request (a client leaving mid-step) up to the
	// wait, so a purchase under way is not cut in the middle.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Wait)
	defer cancel()
	r := &runner{s: s, t: t, tx: tx, ctx: ctx}
	env, err := s.cfg.Tenants.Env(ctx, t.PartnerCode, tenant.Staging)
	if err != nil {
		// The simulator redacts ?token= itself; this is the second guard.
		s.cfg.Logger.WarnContext(ctx, "read the staging environment for redaction", "partner_code", t.PartnerCode, "err", err)
	}
	r.env = env
	tx.Steps, tx.Status = nil, StatusRunning
	ok := r.credentialsAndSimulator() && r.order() && r.pay() && r.webhook() && r.fulfilment() && r.report()
	switch last := tx.Steps[len(tx.Steps)-1]; {
	case ok:
		tx.Status = StatusSucceeded
	case last.Result == ResultPending:
		tx.Status = StatusPending
	default:
		tx.Status = StatusFailed
	}
	r.save()
	if ok {
		note := fmt.Sprintf("test transaction %s succeeded (payment %s)", tx.PartnerReference, tx.Reference)
		if err := s.cfg.Tenants.SetStep(context.WithoutCancel(ctx), t, ChecklistStep, tenant.StepDone, note); err != nil {
			s.cfg.Logger.ErrorContext(ctx, "mark checklist step done", "partner_code", t.PartnerCode, "step", ChecklistStep, "err", err)
		}
	}
	s.cfg.Logger.InfoContext(ctx, "test transaction", "partner_code", t.PartnerCode, "partner_reference", tx.PartnerReference,
		"reference", tx.Reference, "status", tx.Status)
}

// credentialsAndSimulator: the staging credentials are set, and the
// simulator knows the tenant by them (registered or updated each run:
// they may have changed).
func (r *runner) credentialsAndSimulator() bool {
	creds, err := r.s.cfg.Tenants.GatewayCredentials(r.ctx, r.t.PartnerCode, tenant.Staging)
	if err != nil {
		detail := "could not read the staging credentials"
		if errors.Is(err, tenant.ErrCredentialsMissing) {
			detail = err.Error() // names the missing fields, never a value
		}
		return r.step(StepCredentials, ResultFailed, detail)
	}
	r.step(StepCredentials, ResultOK, "the staging API key, API secret and Signing Key are set")
	if r.s.cfg.Simulator == nil {
		return r.step(StepSimulator, ResultFailed, "this partnerhub process runs no simulator")
	}
	if err := r.s.cfg.Simulator.SetPartner(sim.Partner{PartnerID: r.t.PartnerID, PartnerCode: r.t.PartnerCode,
		APIKey: creds.APIKey, APISecret: creds.APISecret, SigningKey: creds.SigningKey}); err != nil {
		return r.step(StepSimulator, ResultFailed, err.Error())
	}
	return r.step(StepSimulator, ResultOK, fmt.Sprintf("the simulator knows partner %s (%d) by the staging credentials",
		r.t.PartnerCode, r.t.PartnerID))
}

// order creates (or finds again) the order at the simulator gateway.
func (r *runner) order() bool {
	o, _, err := r.s.cfg.Payments.CreateOrder(r.ctx, r.t, tenant.Staging, payment.OrderRequest{
		PartnerReference: r.tx.PartnerReference, CustomerID: r.tx.PlayerID, CountryCode: r.tx.CountryCode,
		Products: []payment.OrderLine{{SKU: r.tx.SKU, Quantity: 1}}, Gateway: pay1st.GatewaySimulator,
	})
	if err != nil {
		return r.step(StepOrder, ResultFailed, "create-order: "+err.Error())
	}
	if o.Reference == "" {
		return r.step(StepOrder, ResultFailed, fmt.Sprintf("the order is %s without a payment reference: %s", o.Status, o.LastError))
	}
	r.tx.Reference = o.Reference
	return r.step(StepOrder, ResultOK, fmt.Sprintf("order %s: payment %s of %s %s at the simulator",
		o.PartnerReference, o.Reference, o.Amount.String(), o.CurrencyCode))
}

// pay has the simulator pay the payment, which sends the signed PENDING
// and SUCCESSFUL events to partnerhub; a payment paid by an earlier run is
// not paid again.
func (r *runner) pay() bool {
	if p, ok := r.s.cfg.Simulator.Payment(r.tx.Reference); ok && p.Status == pay1st.StatusSuccessful {
		// Paid by an earlier run whose webhook may not have got through:
		// the simulator sends its latest event again (Pay1st retrying).
		if got, err := r.s.cfg.Payments.ByReference(r.ctx, r.t.ID, tenant.Staging, r.tx.Reference); err == nil &&
			got.Status == string(pay1st.StatusSuccessful) {
			return r.step(StepPayment, ResultOK, "the simulator had paid it already")
		}
		if err := r.s.cfg.Simulator.Redeliver(r.ctx, r.tx.Reference); err != nil {
			return r.step(StepPayment, ResultFailed, "the simulator had paid it already; sending its SUCCESSFUL event again failed: "+err.Error())
		}
		return r.step(StepPayment, ResultOK, "the simulator had paid it already and sent its signed SUCCESSFUL event again")
	}
	err := r.s.cfg.Simulator.Pay(r.ctx, r.tx.Reference)
	var we *sim.WebhookError
	switch {
	case errors.As(err, &we):
		return r.step(StepPayment, ResultFailed, "partnerhub refused the simulator's signed webhook: "+we.Error())
	case err != nil:
		return r.step(StepPayment, ResultFailed, "the simulator could not pay: "+err.Error())
	}
	return r.step(StepPayment, ResultOK, "the simulator paid: signed PENDING and SUCCESSFUL events sent to the webhook URL")
}

// webhook: partnerhub recorded the payment as SUCCESSFUL, not held.
func (r *runner) webhook() bool {
	p, err := r.s.cfg.Payments.ByReference(r.ctx, r.t.ID, tenant.Staging, r.tx.Reference)
	switch {
	case errors.Is(err, payment.ErrNotFound):
		return r.step(StepWebhook, ResultFailed, "partnerhub has no payment "+r.tx.Reference+": the webhook did not arrive")
	case err != nil:
		return r.step(StepWebhook, ResultFailed, "could not read the payment")
	case p.OnHold:
		return r.step(StepWebhook, ResultFailed, "the payment is on hold: "+p.HoldReason)
	case p.Status != string(pay1st.StatusSuccessful):
		return r.step(StepWebhook, ResultFailed, "the payment is "+p.Status+", not SUCCESSFUL")
	}
	r.paymentID = p.ID
	return r.step(StepWebhook, ResultOK, "partnerhub verified the signed webhooks and recorded the payment SUCCESSFUL")
}
