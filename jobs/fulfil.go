package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"

	"github.com/riverqueue/river"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/plugins/sdk"
	"github.com/partnerhub/partnerhub/tenant"
)

// FulfilArgs asks for a paid payment to be credited in the game.
type FulfilArgs struct {
	PaymentID   int64  `json:"payment_id" river:"unique"`
	PartnerCode string `json:"partner_code"`
	Env         string `json:"env"`
	Reference   string `json:"reference"` // for people reading the queue
}

// Kind is the River job kind.
func (FulfilArgs) Kind() string { return "fulfil" }

// InsertOpts makes fulfil unique per payment: a retried webhook queues
// nothing new, including after the job completed.
func (FulfilArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// FulfilWorker calls the tenant's active plugin to credit a payment. The
// plugin gets the same idempotency key on every attempt, and success is
// recorded once, on the fulfilment record in a statement of its own: the
// record, not the job's completion, decides whether it is done.
type FulfilWorker struct {
	river.WorkerDefaults[FulfilArgs]
	deps Deps
	eng  *engine
	// batches are the workers' shared statements (fulfil_batch.go), made
	// on first use.
	batchOnce sync.Once
	batches   *fulfilBatches
}

func (w *FulfilWorker) shared() *fulfilBatches {
	w.batchOnce.Do(func() { w.batches = newFulfilBatches(w.deps.Payments) })
	return w.batches
}

// Work runs one attempt.
func (w *FulfilWorker) Work(ctx context.Context, job *river.Job[FulfilArgs]) error {
	log := w.deps.Logger.With("job_id", job.ID, "attempt", job.Attempt, "payment_id", job.Args.PaymentID,
		"partner_code", job.Args.PartnerCode, "env", job.Args.Env, "reference", job.Args.Reference)
	// Fairness first: a tenant over its cap or with a failing plugin waits
	// without using up an attempt or a worker.
	release, err := w.eng.admit(ctx, envKey{partnerCode: job.Args.PartnerCode, env: job.Args.Env}, job.JobRow)
	if err != nil {
		return err
	}
	defer release()
	if a, ok, err := w.start(ctx, job, log); err != nil || ok {
		if err != nil {
			return err
		}
		return a.run(ctx)
	}
	// The general path, for what start leaves: a payment not (or no
	// longer) due, a settled record, a tenant that changed or is gone.
	// One round trip: the payment and what it bought.
	p, pur, err := w.deps.Payments.PaymentAndPurchase(ctx, job.Args.PaymentID)
	if errors.Is(err, payment.ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return fmt.Errorf("load payment: %w", err)
	}
	if p.Status != string(pay1st.StatusSuccessful) {
		log.InfoContext(ctx, "payment no longer successful; fulfilment cancelled", "status", p.Status)
		return river.JobCancel(fmt.Errorf("payment %s is %s, not SUCCESSFUL", p.Reference, p.Status))
	}
	env, err := w.deps.Tenants.Env(ctx, job.Args.PartnerCode, p.Env)
	if errors.Is(err, tenant.ErrNotFound) {
		return river.JobCancel(fmt.Errorf("tenant %s/%s no longer exists: %w", job.Args.PartnerCode, p.Env, err))
	}
	if err != nil {
		return fmt.Errorf("resolve tenant environment: %w", err)
	}
	if env.TenantID != p.TenantID {
		// The job's partnerCode names another tenant than the payment's.
		return river.JobCancel(fmt.Errorf("payment %d does not belong to %s", p.ID, job.Args.PartnerCode))
	}
	if p.OnHold {
		// Held for review: an operator releases it and queues it again.
		log.InfoContext(ctx, "payment on hold; fulfilment cancelled", "hold_reason", p.HoldReason)
		return river.JobCancel(fmt.Errorf("payment %s is on hold: %s", p.Reference, p.HoldReason))
	}
	key := payment.IdempotencyKey(env.PartnerCode, env.Name, p.Reference, payment.KindFulfil)
	return w.attempt(job, log, env, p, pur, key).run(ctx)
}

// start takes the common case in one statement (payment.StartFulfil):
// the job's tenant environment resolves (cached) and its payment is due
// its fulfilment; the attempt is then counted with the payment's load. ok
// false: nothing was counted and the general path decides.
func (w *FulfilWorker) start(ctx context.Context, job *river.Job[FulfilArgs], log *slog.Logger) (attempt, bool, error) {
	if job.Args.Reference == "" {
		return attempt{}, false, nil
	}
	env, err := w.deps.Tenants.Env(ctx, job.Args.PartnerCode, job.Args.Env)
	if err != nil {
		return attempt{}, false, nil // the general path says why
	}
	key := payment.IdempotencyKey(env.PartnerCode, env.Name, job.Args.Reference, payment.KindFulfil)
	st, err := w.shared().startFulfil(payment.FulfilStart{PaymentID: job.Args.PaymentID,
		TenantID: env.TenantID, Env: env.Name, Reference: job.Args.Reference, Key: key, PluginID: env.ActivePluginID})
	if errors.Is(err, payment.ErrNotFound) {
		return attempt{}, false, river.JobCancel(err)
	}
	if err != nil {
		return attempt{}, false, fmt.Errorf("load payment: %w", err)
	}
	if !st.Begun {
		return attempt{}, false, nil
	}
	var pur payment.Purchase
	if st.MayHavePurchase {
		if _, pur, err = w.deps.Payments.PaymentAndPurchase(ctx, st.Payment.ID); err != nil {
			// Counted but not tried: put back, and River retries the job.
			attempt{deps: w.deps, log: log}.release(ctx, st.Fulfilment.ID, "interrupted: could not load the purchase")
			return attempt{}, false, fmt.Errorf("load purchase: %w", err)
		}
	}
	a := w.attempt(job, log, env, st.Payment, pur, key)
	a.begun = &st.Fulfilment
	return a, true, nil
}

// attempt is the exactly-once attempt at crediting p.
func (w *FulfilWorker) attempt(job *river.Job[FulfilArgs], log *slog.Logger, env tenant.Env, p payment.Payment, pur payment.Purchase, key string) attempt {
	return attempt{
		deps: w.deps, log: log, env: env, p: p, kind: payment.KindFulfil, key: key,
		try: job.Attempt, maxTries: job.MaxAttempts, job: job.JobRow, eng: w.eng, batches: w.shared(),
		call: func(ctx context.Context, plugin sdk.Plugin) (sdk.Result, error) {
			req := fulfilRequest(key, env.PartnerCode, p)
			req.PlayerID, req.Items = cmp.Or(pur.PlayerID, req.PlayerID), pur.Items
			return plugin.Fulfil(ctx, req)
		},
	}
}

func fulfilRequest(key, partnerCode string, p payment.Payment) sdk.FulfilRequest {
	return sdk.FulfilRequest{
		IdempotencyKey: key,
		PartnerCode:    partnerCode,
		Environment:    p.Env,
		PlayerID:       strconv.FormatInt(p.CustomerID, 10),
		Payment: sdk.Payment{
			Reference:        p.Reference,
			PartnerReference: p.PartnerReference,
			Status:           p.Status,
			Amount:           p.Amount,
			CurrencyCode:     p.CurrencyCode,
			CountryCode:      p.CountryCode,
			CustomerID:       p.CustomerID,
			PaymentMethod:    p.PaymentMethod,
		},
	}
}
